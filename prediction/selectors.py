"""Reads of stored candles and backtest runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.db.models import QuerySet

from prediction.models import BacktestRun, Candle
from prediction.timeframes import timeframe_seconds
from xquant.errors import NotFoundError, ValidationError

COLUMNS = ("open", "high", "low", "close", "volume")


def candle_symbols(*, synthetic: bool = False) -> list[str]:
    # order_by() first: the model's default ordering would otherwise join the DISTINCT
    # and give one row per stored bar.
    return list(
        Candle.objects.filter(synthetic=synthetic)
        .order_by("symbol")
        .values_list("symbol", flat=True)
        .distinct()
    )


def candle_timeframes(*, synthetic: bool = False) -> dict[str, list[str]]:
    """Timeframes with stored candles, per symbol (shortest first); the bundled sample's
    timeframes count for its symbol, since it is loaded the first time it is needed."""
    from prediction.services.candles import SAMPLE_RESAMPLED, SAMPLE_SYMBOL, SAMPLE_TIMEFRAME

    pairs = (
        Candle.objects.filter(synthetic=synthetic)
        .order_by("symbol", "timeframe")
        .values_list("symbol", "timeframe")
        .distinct()
    )
    out: dict[str, set[str]] = {}
    for symbol, timeframe in pairs:
        out.setdefault(symbol, set()).add(timeframe)
    if not synthetic and not out.get(SAMPLE_SYMBOL):
        out[SAMPLE_SYMBOL] = {SAMPLE_TIMEFRAME, *SAMPLE_RESAMPLED}
    return {s: sorted(t, key=timeframe_seconds) for s, t in sorted(out.items())}


def known_symbols() -> list[str]:
    """Symbols research can answer for: the traded ones, the sample's, and any stored."""
    from prediction.services.candles import SAMPLE_SYMBOL

    return sorted({*settings.TRADING_SYMBOLS, SAMPLE_SYMBOL, *candle_symbols()})


def _ensure_candles(symbol: str, timeframe: str, synthetic: bool = False) -> None:
    """Load the bundled sample the first time research needs the sample symbol offline."""
    from prediction.services.candles import (
        SAMPLE_RESAMPLED,
        SAMPLE_SYMBOL,
        SAMPLE_TIMEFRAME,
        sample_candles_load,
    )

    if synthetic or Candle.objects.filter(symbol=symbol, timeframe=timeframe).exists():
        return
    if (
        symbol == SAMPLE_SYMBOL
        and timeframe in (SAMPLE_TIMEFRAME, *SAMPLE_RESAMPLED)
        and not Candle.objects.filter(symbol=symbol).exists()
    ):
        sample_candles_load(symbol=symbol)


def candle_frame(
    *,
    symbol: str,
    timeframe: str,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int | None = None,
    min_bars: int = 1,
    synthetic: bool = False,
) -> pd.DataFrame:
    """Stored bars as float64 columns open/high/low/close/volume, indexed by UTC open time.

    Real candles only, unless `synthetic` asks for the simulated ones instead: the two
    are never mixed in one frame. `limit` keeps the most recent bars of the range.
    Raises ValidationError (400, one line) for an unknown symbol or timeframe and for a
    range with fewer than `min_bars` bars.
    """
    timeframe_seconds(timeframe)
    if not settings.SYMBOL_PATTERN.match(symbol or ""):
        raise ValidationError(
            f"Symbol {symbol!r} is not an exchange symbol; use capitals such as BTCUSDT.",
            extra={"fields": {"symbol": ["Use the exchange symbol in capitals, e.g. BTCUSDT."]}},
        )
    if start is not None and end is not None and start >= end:
        raise ValidationError(
            f"start {start.isoformat()} must be before end {end.isoformat()}.",
            extra={"fields": {"start": ["Must be before end."]}},
        )
    _ensure_candles(symbol, timeframe, synthetic)
    qs = Candle.objects.filter(symbol=symbol, timeframe=timeframe, synthetic=synthetic)
    if not qs.exists():
        kind = "synthetic " if synthetic else ""
        available = candle_timeframes(synthetic=synthetic)
        have = available.get(symbol)
        where = (
            f"{symbol} has {kind}candles for {', '.join(have)}"
            if have
            else f"symbols with {kind}candles: {', '.join(available) or 'none'}"
        )
        raise ValidationError(
            f"No {kind}{timeframe} candles for {symbol}; {where}. Fetch more with "
            f"`manage.py fetch_ohlcv {symbol} --timeframe {timeframe} --since YYYY-MM-DD`.",
            extra={"fields": {"symbol": [f"No {kind}{timeframe} candles stored for {symbol}."]}},
        )
    if start is not None:
        qs = qs.filter(open_time__gte=start)
    if end is not None:
        qs = qs.filter(open_time__lt=end)
    qs = qs.order_by("-open_time")[:limit] if limit is not None else qs.order_by("open_time")
    rows = list(qs.values_list("open_time", *COLUMNS))
    if limit is not None:
        rows.reverse()
    if len(rows) < min_bars:
        raise ValidationError(
            f"The range holds {len(rows)} {timeframe} candles of {symbol}; at least "
            f"{min_bars} are needed. Widen the range or choose a shorter timeframe.",
            extra={"fields": {"start": [f"At least {min_bars} candles are needed."]}},
        )
    index = pd.DatetimeIndex([r[0] for r in rows], name="open_time")
    data = np.array([r[1:] for r in rows], dtype=np.float64).reshape(len(rows), len(COLUMNS))
    return pd.DataFrame(data, index=index, columns=list(COLUMNS))


def backtest_run_list() -> QuerySet[BacktestRun]:
    return BacktestRun.objects.all().defer("equity_curve", "trades")


def backtest_run_get(*, run_id: int) -> BacktestRun:
    try:
        return BacktestRun.objects.get(pk=run_id)
    except BacktestRun.DoesNotExist:
        raise NotFoundError(f"Backtest run {run_id} does not exist.") from None


def frame_times(frame: pd.DataFrame) -> np.ndarray:
    """Bar open times of a candle frame as int64 seconds since the epoch."""
    return frame.index.as_unit("s").asi8


#: A run's description lists at most this many gaps (the count is always complete).
GAPS_LISTED = 20


def frame_description(
    frame: pd.DataFrame, *, symbol: str, timeframe: str, synthetic: bool = False
) -> dict[str, Any]:
    """What a computation ran on: where the bars come from, their range and count, and
    every hole between consecutive bars longer than one bar (JSON-safe)."""
    step = timeframe_seconds(timeframe)
    times = frame_times(frame)
    holes = np.flatnonzero(np.diff(times) > step)
    qs = Candle.objects.filter(symbol=symbol, timeframe=timeframe, synthetic=synthetic)
    if len(frame):
        qs = qs.filter(open_time__gte=frame.index[0], open_time__lte=frame.index[-1])
    sources = list(qs.order_by("source").values_list("source", flat=True).distinct())
    return {
        "sources": sources,
        "synthetic": synthetic,
        "first": frame.index[0].isoformat() if len(frame) else None,
        "last": frame.index[-1].isoformat() if len(frame) else None,
        "bars": len(frame),
        "gap_count": len(holes),
        "missing_bars": int(sum((times[k + 1] - times[k]) // step - 1 for k in holes)),
        "gaps": [
            {
                "after": frame.index[k].isoformat(),
                "before": frame.index[k + 1].isoformat(),
                "bars": int((times[k + 1] - times[k]) // step - 1),
            }
            for k in holes[:GAPS_LISTED].tolist()
        ],
    }
