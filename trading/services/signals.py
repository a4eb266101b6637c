"""Outside opinions for the strategies: the prediction service's view per symbol.

Asked only when an active strategy sizes by confidence, and at most once per refresh
interval per symbol: a view is about the next bar, and the in-process model trains
walk-forward, which is far too slow for every tick.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from trading.strategies.base import ExternalSignal

logger = logging.getLogger("trading.signals")


class CachedSignalSource:
    def __init__(
        self,
        fetch: Callable[[str], ExternalSignal | None],
        *,
        refresh_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.fetch = fetch
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self._views: dict[str, tuple[float, ExternalSignal | None]] = {}
        self._lock = threading.Lock()

    def __call__(self, symbol: str) -> ExternalSignal | None:
        now = self.clock()
        with self._lock:
            cached = self._views.get(symbol)
        if cached is not None and now - cached[0] < self.refresh_seconds:
            return cached[1]
        try:
            view = self.fetch(symbol)
        except Exception:  # advice, never a dependency of trading
            logger.warning("no prediction for %s", symbol, exc_info=True)
            view = None
        with self._lock:
            self._views[symbol] = (now, view)
        return view


def prediction_signal_source() -> CachedSignalSource:
    """The prediction service (remote when PREDICTION_API_BASE_URL is set, else the
    in-process model), cached per symbol."""
    from prediction.client import PredictionClient

    client = PredictionClient()
    return CachedSignalSource(client.signal)


def prediction_check(symbols: list[str]) -> bool:
    """At trader start, when a remote prediction service is configured: its health and
    one sample signal, logged. Returns False (and trading goes on) when it is down."""
    from prediction.client import PredictionClient

    client = PredictionClient()
    if not client.remote:
        return True
    try:
        health = client.health()
        if health.get("status") != "ok":
            logger.warning(
                "prediction service at %s is %s (%s); trading continues without it",
                client.base_url,
                health.get("status"),
                health.get("error", ""),
            )
            return False
        sample = client.signal(symbols[0]) if symbols else None
        logger.info(
            "prediction service at %s is up; sample signal for %s: %s",
            client.base_url,
            symbols[0] if symbols else "-",
            f"direction {sample.direction}, confidence {sample.confidence}"
            if sample
            else "no view",
        )
        return True
    finally:
        client.close()
