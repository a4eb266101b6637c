"""Client of the prediction service, for the trading loop.

With settings.PREDICTION_API_BASE_URL empty the model runs in this process
(prediction.predict); otherwise it is another xQuant (or compatible) service reached
over HTTP: GET {base}/api/predict?symbol=..&timeframe=.. and GET {base}/api/research/health/.

Remote calls have a timeout, a bounded number of retries (timeouts, connection errors
and 5xx only; a 4xx will not get better) and a circuit breaker: after
`failure_threshold` failed calls in a row the client stops calling for
`reset_seconds`, then lets one trial call through (half-open) and closes again if it
succeeds. A failing prediction service must never slow the trading tick down, so
every failure ends in `None` ("no outside view"), logged, never raised.

The signal is honest about edge: unless the model's out-of-sample accuracy beats the
best naive baseline by at least two paired standard errors, the client returns
direction 0 (no view), and a strategy sizing by confidence trades its normal size.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
from django.conf import settings

from trading.strategies.base import ExternalSignal

logger = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    def __init__(
        self,
        *,
        failure_threshold: int = 3,
        reset_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return CLOSED
        if self.clock() - self.opened_at >= self.reset_seconds:
            return HALF_OPEN
        return OPEN

    def allow(self) -> bool:
        with self._lock:
            state = self.state
            if state == HALF_OPEN:
                # One trial call at a time: re-arm the timer until it reports back.
                self.opened_at = self.clock()
                return True
            return state == CLOSED

    def record_success(self) -> None:
        with self._lock:
            self.failures = 0
            self.opened_at = None

    def record_failure(self) -> None:
        with self._lock:
            self.failures += 1
            if self.failures >= self.failure_threshold:
                self.opened_at = self.clock()


class PredictionUnavailable(Exception):
    """Internal: the call failed after its retries."""


def signal_from_prediction(payload: dict[str, Any], *, require_edge: bool = True) -> ExternalSignal:
    """ExternalSignal from an /api/predict response body."""
    direction = 1 if payload["direction"] == "up" else -1
    confidence = Decimal(str(round(float(payload["probability"]), 4)))
    if require_edge:
        ev = payload.get("evaluation") or {}
        edge, stderr = ev.get("edge"), ev.get("edge_stderr")
        # An edge is at least two paired standard errors over the best naive baseline.
        if edge is None or stderr is None or edge <= 0 or edge < 2 * stderr:
            return ExternalSignal(direction=0, confidence=Decimal(0))
    return ExternalSignal(direction=direction, confidence=confidence)


class PredictionClient:
    def __init__(
        self,
        *,
        base_url: str | None = None,
        token: str | None = None,
        timeframe: str = "15m",
        timeout: float = 2.0,
        retries: int = 2,
        backoff_seconds: float = 0.2,
        breaker: CircuitBreaker | None = None,
        require_edge: bool = True,
    ):
        self.base_url = (settings.PREDICTION_API_BASE_URL if base_url is None else base_url).rstrip(
            "/"
        )
        self.token = settings.PREDICTION_API_TOKEN if token is None else token
        self.timeframe = timeframe
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.breaker = breaker or CircuitBreaker()
        self.require_edge = require_edge
        self._http = (
            httpx.Client(
                base_url=self.base_url,
                timeout=timeout,
                headers={"Authorization": f"Bearer {self.token}"} if self.token else {},
            )
            if self.base_url
            else None
        )

    @property
    def remote(self) -> bool:
        return self._http is not None

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    # --- public ------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """{"status": "ok" | "down" | "circuit_open", "mode": "in-process" | "remote", ...}"""
        if not self.remote:
            return {"status": "ok", "mode": "in-process"}
        try:
            body = self._call("/api/research/health/", {})
        except PredictionUnavailable as exc:
            status = "circuit_open" if self.breaker.state == OPEN else "down"
            return {"status": status, "mode": "remote", "error": str(exc)}
        return {"status": body.get("status", "ok"), "mode": "remote", "service": body}

    def signal(self, symbol: str) -> ExternalSignal | None:
        """The model's view of the next bar, or None when there is none to be had."""
        try:
            if self.remote:
                payload = self._call(
                    "/api/predict", {"symbol": symbol, "timeframe": self.timeframe}
                )
            else:
                from prediction.predict import prediction_make

                payload = prediction_make(symbol=symbol, timeframe=self.timeframe)
            return signal_from_prediction(payload, require_edge=self.require_edge)
        except PredictionUnavailable as exc:
            logger.warning("no prediction for %s: %s", symbol, exc)
        except Exception as exc:  # an in-process model error must not stop the tick
            logger.warning("no prediction for %s: %s", symbol, exc, exc_info=not self.remote)
        return None

    # --- transport ---------------------------------------------------------------------
    def _call(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        if not self.breaker.allow():
            raise PredictionUnavailable(
                f"circuit open after {self.breaker.failures} failed calls; retrying in "
                f"{self.breaker.reset_seconds:g} s"
            )
        last_error = "no attempt"
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_seconds * 2 ** (attempt - 1))
            try:
                response = self._http.get(path, params=params)
            except httpx.TimeoutException:
                last_error = "timed out"
                continue
            except httpx.TransportError as exc:
                last_error = f"connection failed: {exc.__class__.__name__}"
                continue
            if response.status_code >= 500:
                last_error = f"HTTP {response.status_code}"
                continue
            if response.status_code >= 400:
                # The request itself is wrong (unknown symbol, auth): retrying cannot help,
                # and the service is up, so the breaker does not count it.
                self.breaker.record_success()
                raise PredictionUnavailable(f"HTTP {response.status_code}: {response.text[:200]}")
            try:
                body = response.json()
            except ValueError:
                last_error = "response is not JSON"
                continue
            self.breaker.record_success()
            return body
        self.breaker.record_failure()
        raise PredictionUnavailable(f"{last_error} after {self.retries + 1} attempts")
