"""Reads of stored candles and backtest runs."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from django.conf import settings
from django.db.models import QuerySet

from prediction.models import BacktestRun, Candle
from prediction.timeframes import timeframe_seconds
from xquant.errors import NotFoundError, ValidationError

COLUMNS = ("open", "high", "low", "close", "volume")


def candle_symbols() -> list[str]:
    return sorted(Candle.objects.values_list("symbol", flat=True).distinct())


def known_symbols() -> list[str]:
    """Symbols research can answer for: the traded ones, the sample's, and any stored."""
    from prediction.services.candles import SAMPLE_SYMBOL

    return sorted({*settings.TRADING_SYMBOLS, SAMPLE_SYMBOL, *candle_symbols()})


def _ensure_candles(symbol: str, timeframe: str) -> None:
    """Load the bundled sample the first time research needs the sample symbol offline."""
    from prediction.services.candles import (
        SAMPLE_RESAMPLED,
        SAMPLE_SYMBOL,
        SAMPLE_TIMEFRAME,
        sample_candles_load,
    )

    if Candle.objects.filter(symbol=symbol, timeframe=timeframe).exists():
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
) -> pd.DataFrame:
    """Stored bars as float64 columns open/high/low/close/volume, indexed by UTC open time.

    `limit` keeps the most recent bars of the range. Raises ValidationError (400) for an
    unknown symbol or timeframe and for a range with fewer than `min_bars` bars.
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
    _ensure_candles(symbol, timeframe)
    qs = Candle.objects.filter(symbol=symbol, timeframe=timeframe)
    if not qs.exists():
        stored = candle_symbols()
        raise ValidationError(
            f"No {timeframe} candles for {symbol}. Symbols with stored candles: "
            f"{', '.join(stored) or 'none'}; fetch more with `manage.py fetch_ohlcv {symbol} "
            f"--timeframe {timeframe} --since YYYY-MM-DD`.",
            extra={"fields": {"symbol": [f"No {timeframe} candles stored for {symbol}."]}},
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
