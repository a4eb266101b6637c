"""Per-symbol locks: two ticks of one symbol never run at once, in any process.

With Redis (every multi-process deployment) the lock lives there and expires by itself
if its holder dies on another machine; its value names the holder (host:pid), so a
process restarting on the same host after a crash takes over at once from a holder that
no longer exists instead of waiting for the expiry. In embedded mode (one process) a
thread lock is enough.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from django.conf import settings
from redis.exceptions import LockError

logger = logging.getLogger("trading.locks")

_local_locks: dict[str, threading.Lock] = {}
_local_guard = threading.Lock()
_HOST = socket.gethostname()


class LockBusy(Exception):
    """Another tick of the symbol is running."""


def _redis():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL)


def holder_token() -> str:
    """Names this thread of this process on this host ("host|pid|thread"), as holders of
    symbol locks and order leases are named."""
    return f"{_HOST}|{os.getpid()}|{threading.get_ident()}"


def holder_is_gone(value: bytes | str | None) -> bool:
    """True when the lock's holder was a process on this host that no longer runs."""
    if not value:
        return False
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    host, _, rest = value.partition("|")
    pid = rest.partition("|")[0]
    if host != _HOST or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


@contextmanager
def symbol_lock(symbol: str, *, timeout: float = 60.0, wait: float = 0.0) -> Iterator[None]:
    """Hold the symbol's tick lock; raises LockBusy if it is not free within `wait` s.

    `timeout` bounds how long a holder that died elsewhere can block the symbol.
    """
    if settings.REDIS_URL:
        client = _redis()
        name = f"xquant:tick-lock:{symbol}"
        token = f"{_HOST}|{os.getpid()}|{uuid.uuid4().hex}"
        lock = client.lock(name, timeout=timeout, blocking_timeout=wait or None)
        acquired = lock.acquire(blocking=wait > 0, token=token)
        if not acquired:
            held_by = client.get(name)
            if holder_is_gone(held_by):
                # Delete only if it is still that dead holder's lock, then try once more.
                lock.lua_release(keys=[name], args=[held_by], client=client)
                logger.warning(
                    "%s: cleared the tick lock of a dead process (%s)", symbol, held_by.decode()
                )
                acquired = lock.acquire(blocking=False, token=token)
        if not acquired:
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
