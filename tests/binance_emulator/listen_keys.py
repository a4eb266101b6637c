"""The account's user-data listen key, as Binance USD-M keeps it.

- POST /fapi/v1/listenKey: the account's active key (its validity extended), else a new
  one. One key per account: every client of the account shares it.
- PUT /fapi/v1/listenKey: keepalive, 60 more minutes; -1125 when there is no active key.
- DELETE /fapi/v1/listenKey: closes it (for every client of the account).
- A key not kept alive within its lifetime expires; the stream then says
  `listenKeyExpired` (tests.binance_emulator.streams). Tests can also `expire()` it now.

Keys need the API key header but no signature (Binance's USER_STREAM security type).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable

from tests.binance_emulator.account import ApiError

LIFETIME_SECONDS = 3600.0


class ListenKeys:
    def __init__(self, lifetime_seconds: float = LIFETIME_SECONDS):
        self.lifetime_seconds = lifetime_seconds
        self.key: str | None = None
        self.expires_at = 0.0
        #: (method, key, monotonic time) of every call, for tests.
        self.calls: list[tuple[str, str | None, float]] = []
        #: Called with a key when it expires or is closed (the streams disconnect it).
        self.on_expired: list[Callable[[str], None]] = []
        self._lock = threading.RLock()

    def active(self, key: str | None) -> bool:
        with self._lock:
            self._check_expiry()
            return key is not None and key == self.key

    def create(self, params: dict) -> dict:
        with self._lock:
            self._check_expiry()
            if self.key is None:
                self.key = secrets.token_urlsafe(48)[:64]
            self.expires_at = time.monotonic() + self.lifetime_seconds
            self.calls.append(("POST", self.key, time.monotonic()))
            return {"listenKey": self.key}

    def keepalive(self, params: dict) -> dict:
        with self._lock:
            self._check_expiry()
            self.calls.append(("PUT", self.key, time.monotonic()))
            if self.key is None:
                raise ApiError(400, -1125, "This listenKey does not exist.")
            self.expires_at = time.monotonic() + self.lifetime_seconds
            return {"listenKey": self.key}

    def delete(self, params: dict) -> dict:
        with self._lock:
            self.calls.append(("DELETE", self.key, time.monotonic()))
            key, self.key = self.key, None
        if key is not None:
            self._expired(key)
        return {}

    def expire(self) -> str | None:
        """Let the key lapse now, as if nobody had kept it alive."""
        with self._lock:
            key, self.key = self.key, None
        if key is not None:
            self._expired(key)
        return key

    def count(self, method: str) -> int:
        return sum(1 for call in self.calls if call[0] == method)

    def _check_expiry(self) -> None:
        if self.key is not None and time.monotonic() >= self.expires_at:
            key, self.key = self.key, None
            self._expired(key)

    def check_expiry(self) -> None:
        with self._lock:
            self._check_expiry()

    def _expired(self, key: str) -> None:
        for callback in list(self.on_expired):
            callback(key)
