"""Throttles beyond DRF's per-client rates.

- MoneyRateThrottle: writes that move money or change risk, marked `money_endpoint =
  True` on their views, at API_THROTTLE_MONEY per client — far below the general rate.
- Failed token attempts (xquant.api.authentication) at API_TOKEN_FAILURES per address.
"""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle


class MoneyRateThrottle(UserRateThrottle):
    scope = "money"

    def allow_request(self, request, view) -> bool:
        if request.method in SAFE_METHODS or not getattr(view, "money_endpoint", False):
            return True
        return super().allow_request(request, view)


class TokenFailureThrottle(SimpleRateThrottle):
    """Counts failed token attempts per client address (not per token: a guesser
    changes tokens); once over the rate, every token attempt from there is refused
    until the window passes, so a right guess is no use either."""

    scope = "token_failures"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def locked(self, request) -> bool:
        self.key = self.get_cache_key(request, None)
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        return len(self.history) >= self.num_requests

    def record_failure(self, request) -> None:
        if not hasattr(self, "history"):
            self.locked(request)
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history, self.duration)
