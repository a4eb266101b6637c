"""Candle storage: upserts, gap detection, incremental fetching and the bundled sample.

Fetching goes through the exchange interface (exchanges.base.Exchange.fetch_ohlcv);
ccxt stays inside exchanges/. Only closed bars are stored: the bar still forming at
`now` would be stored with a close that later changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from exchanges.base import Candle as BarValue
from exchanges.base import Exchange
from prediction.models import Candle
from prediction.timeframes import timeframe_delta, timeframe_seconds

logger = logging.getLogger(__name__)

SAMPLE_PATH = Path(settings.BASE_DIR) / "exchanges" / "data" / "btcusd_15m_2021q4.csv"
#: The bundled sample is BTC-USD spot; research treats it as a stand-in for BTCUSDT.
SAMPLE_SYMBOL = "BTCUSDT"
SAMPLE_TIMEFRAME = "15m"
#: Timeframes derived from the 15-minute sample by resampling.
SAMPLE_RESAMPLED = ("1h", "4h", "1d")
SAMPLE_SOURCE = "sample"

_UPDATE_FIELDS = ["open", "high", "low", "close", "volume", "source"]
#: Exchanges whose candles are real market data. Any other (paper, dry-run) simulates
#: its prices: its candles are stored as synthetic, apart from the real ones.
REAL_DATA_EXCHANGES = ("binance",)


def candles_store(
    *,
    symbol: str,
    timeframe: str,
    candles: Iterable[BarValue],
    source: str = "",
    synthetic: bool = False,
) -> int:
    """Insert or update bars (unique per symbol, timeframe, real or synthetic, open
    time); returns the count."""
    timeframe_seconds(timeframe)
    rows = [
        Candle(
            symbol=symbol,
            timeframe=timeframe,
            open_time=c.open_time,
            open=c.open,
            high=c.high,
            low=c.low,
            close=c.close,
            volume=c.volume,
            source=source,
            synthetic=synthetic,
        )
        for c in candles
    ]
    if not rows:
        return 0
    Candle.objects.bulk_create(
        rows,
        batch_size=2_000,
        update_conflicts=True,
        unique_fields=["symbol", "timeframe", "synthetic", "open_time"],
        update_fields=_UPDATE_FIELDS,
    )
    return len(rows)


@dataclass(frozen=True, slots=True)
class Gap:
    """Missing bars: every open time in [start, end) on the timeframe's grid."""

    start: datetime
    end: datetime
    bars: int


def candle_gaps(
    *,
    symbol: str,
    timeframe: str,
    start: datetime | None = None,
    end: datetime | None = None,
    synthetic: bool = False,
) -> list[Gap]:
    """Holes between stored bars within [start, end) (default: first to last stored bar)."""
    step = timeframe_delta(timeframe)
    qs = Candle.objects.filter(symbol=symbol, timeframe=timeframe, synthetic=synthetic)
    if start is not None:
        qs = qs.filter(open_time__gte=start)
    if end is not None:
        qs = qs.filter(open_time__lt=end)
    times = list(qs.order_by("open_time").values_list("open_time", flat=True))
    gaps: list[Gap] = []
    expected = start if start is not None else (times[0] if times else None)
    for t in times:
        if expected is not None and t > expected:
            gaps.append(Gap(expected, t, int((t - expected) / step)))
        expected = t + step
    if end is not None and expected is not None and expected < end:
        gaps.append(Gap(expected, end, int((end - expected) / step)))
    return gaps


@dataclass(slots=True)
class FetchResult:
    symbol: str
    timeframe: str
    #: Stored as synthetic candles (the exchange simulates its prices).
    synthetic: bool = False
    stored: int = 0
    requests: int = 0
    #: Ranges that were missing before the fetch.
    gaps_found: list[Gap] = field(default_factory=list)
    #: Ranges the exchange had no bars for (an outage, a listing date): left empty.
    gaps_unfilled: list[Gap] = field(default_factory=list)


def _floor(moment: datetime, seconds: int) -> datetime:
    ts = int(moment.timestamp())
    return datetime.fromtimestamp(ts - ts % seconds, tz=UTC)


def candles_fetch(
    *,
    exchange: Exchange,
    symbol: str,
    timeframe: str,
    since: datetime,
    until: datetime | None = None,
    limit: int = 1_000,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FetchResult:
    """Fetch what is missing in [since, until) and store it.

    Incremental: only holes between stored bars, bars before the first stored one and
    bars after the last stored one are requested. `progress(done_bars, total_bars)` is
    called after every page.
    """
    seconds = timeframe_seconds(timeframe)
    step = timedelta(seconds=seconds)
    now = now or timezone.now()
    # The bar that contains `now` is still forming: stop before it.
    last_closed_end = _floor(now, seconds)
    until = min(until or last_closed_end, last_closed_end)
    since = (
        _floor(since, seconds)
        if since.timestamp() % seconds == 0
        else _floor(since, seconds) + step
    )
    synthetic = exchange.name not in REAL_DATA_EXCHANGES
    result = FetchResult(symbol=symbol, timeframe=timeframe, synthetic=synthetic)
    if since >= until:
        return result
    missing = candle_gaps(
        symbol=symbol, timeframe=timeframe, start=since, end=until, synthetic=synthetic
    )
    stored_any = Candle.objects.filter(
        symbol=symbol,
        timeframe=timeframe,
        synthetic=synthetic,
        open_time__gte=since,
        open_time__lt=until,
    ).exists()
    if not stored_any:
        missing = [Gap(since, until, int((until - since) / step))]
    result.gaps_found = list(missing)
    total = sum(g.bars for g in missing)
    done = 0
    for gap in missing:
        cursor = gap.start
        while cursor < gap.end:
            bars = exchange.fetch_ohlcv(symbol, timeframe, since=cursor, limit=limit)
            result.requests += 1
            page = [b for b in bars if cursor <= b.open_time < gap.end]
            if not page:
                result.gaps_unfilled.append(Gap(cursor, gap.end, int((gap.end - cursor) / step)))
                done += int((gap.end - cursor) / step)
                break
            with transaction.atomic():
                result.stored += candles_store(
                    symbol=symbol,
                    timeframe=timeframe,
                    candles=page,
                    source=exchange.name,
                    synthetic=synthetic,
                )
            next_cursor = page[-1].open_time + step
            done += int((next_cursor - cursor) / step)
            cursor = next_cursor
            if progress:
                progress(min(done, total), total)
    if progress:
        progress(total, total)
    logger.info(
        "fetched %s %s bars of %s: %d stored in %d requests, %d gaps unfilled",
        timeframe,
        "synthetic" if synthetic else "real",
        symbol,
        result.stored,
        result.requests,
        len(result.gaps_unfilled),
    )
    return result


def sample_frame() -> pd.DataFrame:
    """The bundled 15-minute sample as a DataFrame indexed by aware UTC open time."""
    frame = pd.read_csv(SAMPLE_PATH, parse_dates=["Datetime"])
    frame = frame.rename(columns=str.lower).rename(columns={"datetime": "open_time"})
    frame["open_time"] = frame["open_time"].dt.tz_localize("UTC")
    return frame.set_index("open_time").sort_index()


def resample_frame(frame: pd.DataFrame, timeframe: str) -> pd.DataFrame:
    """OHLCV bars of a coarser timeframe; bins without any source bar are dropped."""
    rule = f"{timeframe_seconds(timeframe)}s"
    out = frame.resample(rule, label="left", closed="left").agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    )
    return out.dropna(subset=["open"])


def _to_decimal(value: float) -> Decimal:
    # repr gives the shortest string that round-trips: 43443.0625, not its binary expansion.
    return Decimal(repr(float(value)))


def _bars_from_frame(frame: pd.DataFrame) -> list[BarValue]:
    return [
        BarValue(
            open_time=ts.to_pydatetime(),
            open=_to_decimal(o),
            high=_to_decimal(h),
            low=_to_decimal(lo),
            close=_to_decimal(c),
            volume=_to_decimal(v),
        )
        for ts, o, h, lo, c, v in zip(
            frame.index,
            frame["open"],
            frame["high"],
            frame["low"],
            frame["close"],
            frame["volume"],
            strict=True,
        )
    ]


def sample_candles_load(
    *, symbol: str = SAMPLE_SYMBOL, timeframes: Iterable[str] | None = None
) -> dict[str, int]:
    """Store the bundled real candles (15m and resampled 1h/4h/1d); returns bars per timeframe."""
    wanted = list(timeframes or (SAMPLE_TIMEFRAME, *SAMPLE_RESAMPLED))
    base = sample_frame()
    counts: dict[str, int] = {}
    with transaction.atomic():
        for timeframe in wanted:
            frame = base if timeframe == SAMPLE_TIMEFRAME else resample_frame(base, timeframe)
            source = (
                SAMPLE_SOURCE if timeframe == SAMPLE_TIMEFRAME else f"{SAMPLE_SOURCE}:resampled"
            )
            counts[timeframe] = candles_store(
                symbol=symbol, timeframe=timeframe, candles=_bars_from_frame(frame), source=source
            )
    return counts
