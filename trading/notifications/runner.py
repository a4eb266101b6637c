"""Where notification work runs: Celery workers, or one background thread (embedded).

Embedded mode has no broker (Celery is eager there): running a task inline would put a
slow chat server inside a tick or a request. So with eager Celery the same service
functions run on one daemon thread per process, at the time they were due; a delay
("send this digest in 2 s", "retry in 10 s") is a timer on that thread. The work is
lost with the process, as an unsent message would be in any crash.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from celery import current_app
from django.db import close_old_connections, connections

logger = logging.getLogger(__name__)


def embedded() -> bool:
    return bool(current_app.conf.task_always_eager)


class _Timers:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.queue: list[tuple[float, int, Callable[..., Any], tuple]] = []
        self.order = itertools.count()
        self.busy = 0
        self.condition = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="notifications", daemon=True)
        self.thread.start()

    def submit(self, delay: float, fn: Callable[..., Any], args: tuple) -> None:
        with self.condition:
            due = time.monotonic() + max(0.0, delay)
            heapq.heappush(self.queue, (due, next(self.order), fn, args))
            self.condition.notify()

    def _run(self) -> None:
        while True:
            with self.condition:
                while not self.queue or self.queue[0][0] > time.monotonic():
                    timeout = self.queue[0][0] - time.monotonic() if self.queue else None
                    self.condition.wait(timeout)
                _, _, fn, args = heapq.heappop(self.queue)
                self.busy += 1
            try:
                fn(*args)
            except Exception:
                logger.exception("notification work %s failed", getattr(fn, "__name__", fn))
            finally:
                close_old_connections()
                with self.condition:
                    self.busy -= 1
                    self.condition.notify_all()

    def idle(self, timeout: float) -> bool:
        """True once nothing is due within `timeout` seconds and nothing runs (tests)."""
        deadline = time.monotonic() + timeout
        with self.condition:
            while self.busy or (self.queue and self.queue[0][0] <= deadline):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.condition.wait(min(remaining, 0.05))
            return True


_timers: _Timers | None = None
_lock = threading.Lock()


def _background() -> _Timers:
    global _timers
    # A forked child inherits the object but not its thread.
    if _timers is None or _timers.pid != os.getpid():
        with _lock:
            if _timers is None or _timers.pid != os.getpid():
                _timers = _Timers()
    return _timers


def run_later(task_name: str, fn: Callable[..., Any], args: tuple, delay: float = 0.0) -> None:
    """Run `fn(*args)` in `delay` seconds: as the Celery task `task_name` (which calls
    `fn`), or on the embedded background thread."""
    if embedded():
        _background().submit(delay, fn, args)
    else:
        current_app.send_task(task_name, args=list(args), countdown=max(0.0, delay) or None)


def wait_idle(timeout: float = 5.0) -> bool:
    return _timers is None or _timers.idle(timeout)


def close_connections(timeout: float = 5.0) -> None:
    """Close the background thread's database connections once it is idle (tests drop
    their database afterwards)."""
    if _timers is not None and _timers.pid == os.getpid():
        _timers.idle(timeout)
        _timers.submit(0.0, connections.close_all, ())
        _timers.idle(timeout)
