"""Per-symbol locks: two ticks of one symbol never run at once, in any process.

With Redis (every multi-process deployment) the lock lives there and expires by itself
if its holder dies; in embedded mode (one process) a thread lock is enough.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from django.conf import settings
from redis.exceptions import LockError

_local_locks: dict[str, threading.Lock] = {}
_local_guard = threading.Lock()


class LockBusy(Exception):
    """Another tick of the symbol is running."""


def _redis():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL)


@contextmanager
def symbol_lock(symbol: str, *, timeout: float = 60.0, wait: float = 0.0) -> Iterator[None]:
    """Hold the symbol's tick lock; raises LockBusy if it is not free within `wait` s.

    `timeout` bounds how long a crashed holder can block the symbol.
    """
    if settings.REDIS_URL:
        lock = _redis().lock(
            f"xquant:tick-lock:{symbol}", timeout=timeout, blocking_timeout=wait or None
        )
        if not lock.acquire(blocking=wait > 0):
            raise LockBusy(symbol)
        try:
            yield
        finally:
            with suppress(LockError):  # expired meanwhile: nothing left to release
                lock.release()
        return
    with _local_guard:
        lock = _local_locks.setdefault(symbol, threading.Lock())
    acquired = lock.acquire(timeout=wait) if wait > 0 else lock.acquire(blocking=False)
    if not acquired:
        raise LockBusy(symbol)
    try:
        yield
    finally:
        lock.release()
