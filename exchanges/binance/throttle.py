"""Client-side request-weight throttle for Binance, shared by threads and processes.

Binance counts request weight per IP in fixed one-minute windows; going over answers
HTTP 429 and carrying on earns a 418 ban. Every request first takes its weight from a
budget for the current window (the server's window: our clock plus the measured offset;
near the end of a window also from the next, where it may land);
when the budget is spent it waits for the next window, or gives up at once with
RateLimitedError when that is further away than `max_wait_seconds`. Each answer's
X-MBX-USED-WEIGHT-1M header raises the window's count to what Binance says (other
programs on the same IP count too). A 429 or 418 blocks every sender until its
Retry-After has passed, so a worker that hits the limit stops all the others.

With Redis the counters live there (several Celery workers on one IP share one budget);
without, in this process.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from exchanges.errors import RateLimitedError
from exchanges.metrics import request_weight_used

logger = logging.getLogger(__name__)

USED_WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"
#: Without a Retry-After, how long a 418 ban is assumed to last (Binance's shortest).
DEFAULT_BAN_SECONDS = 120.0


class WeightStore(Protocol):
    def take(
        self, windows: list[int], weight: int, budget: int, ttl_ms: int, now: float
    ) -> tuple[str, float, bool]:
        """Take `weight` from every window listed, or from none: ("ok", used, _) when
        taken; ("full", used, _) when it does not fit; ("blocked", seconds left, banned)
        while a 429/418 back-off is in force."""
        ...

    def report(self, window: int, used: int, ttl_ms: int) -> None: ...

    def block(self, until: float, banned: bool, ttl_ms: int) -> None: ...


class LocalWeightStore:
    """Counters for the threads of one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._used: dict[int, int] = {}
        self._blocked_until = 0.0
        self._banned = False

    def take(
        self, windows: list[int], weight: int, budget: int, ttl_ms: int, now: float
    ) -> tuple[str, float, bool]:
        with self._lock:
            if self._blocked_until > now:
                return "blocked", self._blocked_until - now, self._banned
            for old in [w for w in self._used if w < windows[0] - 1]:
                del self._used[old]
            for window in windows:
                used = self._used.get(window, 0)
                if weight and used + weight > budget:
                    return "full", used, False
            for window in windows:
                self._used[window] = self._used.get(window, 0) + weight
            return "ok", self._used.get(windows[0], 0), False

    def report(self, window: int, used: int, ttl_ms: int) -> None:
        with self._lock:
            if used > self._used.get(window, 0):
                self._used[window] = used

    def block(self, until: float, banned: bool, ttl_ms: int) -> None:
        with self._lock:
            if until > self._blocked_until:
                self._blocked_until, self._banned = until, banned


# KEYS[1]: the back-off key; KEYS[2..]: the windows to charge.
_TAKE_SCRIPT = """
local blocked = redis.call('GET', KEYS[1])
if blocked then
  local until_, banned = string.match(blocked, '([^:]+):(%d)')
  local left = tonumber(until_) - tonumber(ARGV[4])
  if left > 0 then return {'blocked', tostring(left), banned} end
end
local weight = tonumber(ARGV[1])
if weight == 0 then return {'ok', redis.call('GET', KEYS[2]) or '0', '0'} end
for i = 2, #KEYS do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used + weight > tonumber(ARGV[2]) then return {'full', tostring(used), '0'} end
end
local first = 0
for i = 2, #KEYS do
  local used = redis.call('INCRBY', KEYS[i], weight)
  redis.call('PEXPIRE', KEYS[i], ARGV[3])
  if i == 2 then first = used end
end
return {'ok', tostring(first), '0'}
"""
_REPORT_SCRIPT = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > used then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
"""
_BLOCK_SCRIPT = """
local current = redis.call('GET', KEYS[1])
if current then
  local until_ = string.match(current, '([^:]+):')
  if tonumber(until_) >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. ARGV[2], 'PX', ARGV[3])
return 1
"""


class RedisWeightStore:
    """Counters in Redis, shared by every process that uses the same key prefix."""

    def __init__(self, client: Any, prefix: str) -> None:
        self._redis = client
        self._prefix = prefix
        self._take = client.register_script(_TAKE_SCRIPT)
        self._report = client.register_script(_REPORT_SCRIPT)
        self._block = client.register_script(_BLOCK_SCRIPT)

    def _window_key(self, window: int) -> str:
        return f"{self._prefix}:used:{window}"

    def take(
        self, windows: list[int], weight: int, budget: int, ttl_ms: int, now: float
    ) -> tuple[str, float, bool]:
        state, value, banned = self._take(
            keys=[f"{self._prefix}:blocked", *(self._window_key(w) for w in windows)],
            args=[weight, budget, ttl_ms, repr(now)],
        )
        return state.decode(), float(value), banned in (b"1", 1)

    def report(self, window: int, used: int, ttl_ms: int) -> None:
        self._report(keys=[self._window_key(window)], args=[used, ttl_ms])

    def block(self, until: float, banned: bool, ttl_ms: int) -> None:
        self._block(keys=[f"{self._prefix}:blocked"], args=[repr(until), int(banned), ttl_ms])


class WeightThrottle:
    def __init__(
        self,
        *,
        store: WeightStore,
        budget: int,
        window_seconds: float = 60.0,
        max_wait_seconds: float = 10.0,
        server_offset_ms: Callable[[], float] = lambda: 0.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if budget < 1:
            raise ValueError(f"the request weight budget must be at least 1 (got {budget})")
        self.store = store
        self.budget = budget
        self.window_seconds = window_seconds
        self.max_wait_seconds = max_wait_seconds
        self._server_offset_ms = server_offset_ms
        self._clock = clock
        self._sleep = sleep
        # Keep a window's counter a little longer than the window itself.
        self._ttl_ms = int(window_seconds * 2000) + 1000
        # A request sent this close to the end of a window may arrive in the next one:
        # it is charged to both.
        self.boundary_seconds = min(1.0, window_seconds / 8)

    def _server_now(self) -> float:
        return self._clock() + self._server_offset_ms() / 1000

    def window(self) -> int:
        return int(self._server_now() // self.window_seconds)

    def acquire(self, weight: int) -> None:
        """Take `weight` from the current window's budget, waiting for the next window
        if need be. Raises RateLimitedError, without sending, during a 429/418 back-off
        or when the wait would exceed max_wait_seconds."""
        weight = min(weight, self.budget)
        waited = 0.0
        while True:
            now = self._server_now()
            window = int(now // self.window_seconds)
            windows = [window]
            if weight and (window + 1) * self.window_seconds - now < self.boundary_seconds:
                windows.append(window + 1)
            state, value, banned = self.store.take(windows, weight, self.budget, self._ttl_ms, now)
            if state == "ok":
                return
            if state == "blocked":
                raise RateLimitedError(
                    f"Binance asked to back off ({'IP banned' if banned else 'too many requests'}) "
                    f"for {value:.1f} s more; no request sent",
                    retry_after=value,
                    banned=banned,
                    code="exchange.rate_limited",
                )
            wait = (window + 1) * self.window_seconds - now + random.uniform(0, 0.05)
            if waited + wait > self.max_wait_seconds:
                raise RateLimitedError(
                    f"the request weight budget of {self.budget} per "
                    f"{self.window_seconds:g} s is used up ({value:g} used) and the next window "
                    f"opens in {wait:.1f} s; no request sent",
                    retry_after=wait,
                    code="exchange.rate_limited",
                )
            logger.debug("binance throttle: budget used up, waiting %.3f s", wait)
            self._sleep(wait)
            waited += wait

    def observe(self, status: int | None, headers: Mapping[str, str] | None) -> None:
        """Learn from an answer: the used weight Binance reports, and 429/418 back-offs."""
        if not headers:
            return
        used = headers.get(USED_WEIGHT_HEADER)
        if used is not None and used.isdigit():
            self.store.report(self.window(), int(used), self._ttl_ms)
            request_weight_used("binance", int(used))
        if status in (418, 429):
            retry_after = parse_retry_after(headers)
            if retry_after is None:
                # Without advice: the rest of the window for a 429, the shortest ban for 418.
                now = self._server_now()
                retry_after = (
                    DEFAULT_BAN_SECONDS
                    if status == 418
                    else (self.window() + 1) * self.window_seconds - now
                )
            self.store.block(
                self._server_now() + retry_after,
                banned=status == 418,
                ttl_ms=int(retry_after * 1000) + 1000,
            )
            logger.warning(
                "binance answered %s: every sender backs off for %.1f s", status, retry_after
            )


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    value = headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
