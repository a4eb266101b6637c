"""Candle timeframes the research side understands, in Binance's spelling."""

from __future__ import annotations

from datetime import timedelta

from xquant.errors import ValidationError

#: Timeframe → length in seconds.
TIMEFRAME_SECONDS: dict[str, int] = {
    "1m": 60,
    "3m": 180,
    "5m": 300,
    "15m": 900,
    "30m": 1_800,
    "1h": 3_600,
    "2h": 7_200,
    "4h": 14_400,
    "6h": 21_600,
    "12h": 43_200,
    "1d": 86_400,
}
TIMEFRAMES = tuple(TIMEFRAME_SECONDS)


def timeframe_seconds(timeframe: str) -> int:
    try:
        return TIMEFRAME_SECONDS[timeframe]
    except KeyError:
        raise ValidationError(
            f"Unknown timeframe {timeframe!r}. Allowed: {', '.join(TIMEFRAMES)}.",
            extra={"fields": {"timeframe": [f"Unknown timeframe {timeframe!r}."]}},
        ) from None


def timeframe_delta(timeframe: str) -> timedelta:
    return timedelta(seconds=timeframe_seconds(timeframe))
