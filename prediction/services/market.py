"""Live market events for the ws/<SYMBOL>/ stream: a ticker on every snapshot and the
latest indicators whenever a one-minute candle completes.

The trading tick calls publish_market_update(symbol=..., snapshot=...) for every
snapshot it takes. Candles are built from the snapshots' mids; the builder's state
lives in the Django cache (Redis when configured), so ticks running in different
processes (Celery workers) continue the same candle. It is seeded from stored candles
of the stream timeframe, when there are any, so indicators are warm at once.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
from django.conf import settings
from django.core.cache import cache

from exchanges.base import MarketSnapshot
from prediction.indicators import INDICATOR_COLUMNS, OHLCV, indicator_params, indicators_compute
from prediction.models import Candle
from prediction.timeframes import timeframe_seconds
from xquant import realtime

logger = logging.getLogger(__name__)

STREAM_TIMEFRAME = "1m"
#: Completed candles kept for the indicators (MACD and StochRSI need about 35 to warm up).
HISTORY = 200
_CACHE_SECONDS = 24 * 3_600


def _cache_key(symbol: str) -> str:
    return f"prediction:stream:{symbol}:{STREAM_TIMEFRAME}"


def _seed(symbol: str) -> dict[str, Any]:
    from prediction.services.candles import REAL_DATA_EXCHANGES

    # Stored candles of the same kind as the snapshots that will continue them: the
    # paper exchange's prices continue its synthetic candles, never real ones.
    synthetic = settings.EXCHANGE not in REAL_DATA_EXCHANGES
    rows = list(
        Candle.objects.filter(symbol=symbol, timeframe=STREAM_TIMEFRAME, synthetic=synthetic)
        .order_by("-open_time")
        .values_list("open_time", "open", "high", "low", "close", "volume")[:HISTORY]
    )
    rows.reverse()
    return {
        "bucket": None,
        "bar": None,
        "history": [[r[0].timestamp(), *(float(v) for v in r[1:])] for r in rows],
    }


def _latest(history: list[list[float]]) -> dict[str, float | None]:
    arr = np.asarray(history, dtype=np.float64)
    bars = OHLCV(*(np.ascontiguousarray(arr[:, k]) for k in range(1, 6)))
    values = indicators_compute(bars, indicator_params({}))
    out: dict[str, float | None] = {}
    for name in INDICATOR_COLUMNS:
        v = float(values[name][-1])
        out[name] = v if math.isfinite(v) else None
    return out


def publish_market_update(*, symbol: str, snapshot: MarketSnapshot) -> None:
    """Publish "ticker" to the symbol's group; when the snapshot opens a new candle,
    also "indicators" with the latest values over the completed candles."""
    realtime.publish(
        realtime.symbol_group(symbol),
        "ticker",
        {
            "symbol": symbol,
            "bid": snapshot.bid,
            "ask": snapshot.ask,
            "mid": snapshot.mid,
            "spread": snapshot.spread,
            "timestamp": snapshot.timestamp.isoformat(),
        },
    )
    try:
        completed = _advance(symbol, snapshot)
    except Exception:
        # The stream is a convenience: it must never break the trading tick.
        logger.warning("could not update the %s candle stream", symbol, exc_info=True)
        return
    if completed is None:
        return
    history, bar = completed
    payload: dict[str, Any] = {
        "symbol": symbol,
        "timeframe": STREAM_TIMEFRAME,
        "open_time": datetime.fromtimestamp(bar[0], UTC).isoformat(),
        "open": bar[1],
        "high": bar[2],
        "low": bar[3],
        "close": bar[4],
        "bars": len(history),
    }
    payload.update(_latest(history))
    realtime.publish(realtime.symbol_group(symbol), "indicators", payload)


def _advance(symbol: str, snapshot: MarketSnapshot) -> tuple[list, list] | None:
    """Add the snapshot to the candle being built; returns (history, completed candle)
    when the snapshot starts a new candle."""
    seconds = timeframe_seconds(STREAM_TIMEFRAME)
    key = _cache_key(symbol)
    state = cache.get(key) or _seed(symbol)
    ts = snapshot.timestamp.timestamp()
    bucket = ts - ts % seconds
    mid = float(snapshot.mid)
    volume = float(snapshot.volume) if snapshot.volume is not None else 0.0
    completed = None
    bar = state["bar"]
    if state["bucket"] is None or bucket > state["bucket"]:
        if bar is not None:
            state["history"].append(bar)
            del state["history"][:-HISTORY]
            completed = (state["history"], bar)
        state["bucket"] = bucket
        state["bar"] = [bucket, mid, mid, mid, mid, volume]
    elif bucket == state["bucket"]:
        bar[2] = max(bar[2], mid)
        bar[3] = min(bar[3], mid)
        bar[4] = mid
        bar[5] += volume
    # A snapshot older than the current candle (clock skew between workers) is ignored.
    cache.set(key, state, _CACHE_SECONDS)
    return completed
