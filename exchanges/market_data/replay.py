"""Replay of the bundled real BTC 15-minute candles (exchanges/data/, see its README).

The 8,686 bars are played back-to-back in a loop anchored at 2020-01-01 UTC: the bar for
a wall-clock moment is bar ((t - anchor) / 15 min) mod 8,686, so every process agrees on
the price without sharing state and the bars keep their 15-minute grid. Gaps in the
source (missing bars) are closed up, and at the end of each loop (about every 90 days)
the price jumps from the last close back to the first open.

Inside a bar the price moves in straight lines open → low → high → close for a rising
bar (open → high → low → close for a falling one), so a bar's extremes are reached.

Other symbols are the BTC series times the symbol's `replay_scale` (ETHUSDT = BTC * 0.075,
…, see exchanges/symbols.py): they move exactly like BTC, at their own price level.
"""

from __future__ import annotations

import csv
import functools
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from exchanges.base import Candle
from exchanges.market_data.base import PriceFeed, timeframe_seconds
from exchanges.market_data.synthetic import EPOCH
from exchanges.symbols import SymbolSpec

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "btcusd_15m_2021q4.csv"
BAR_SECONDS = 900


@dataclass(frozen=True, slots=True)
class _Bars:
    """The bundled bars as floats (for speed) and Decimals (for exact candles)."""

    candles: tuple[Candle, ...]
    opens: tuple[float, ...]
    highs: tuple[float, ...]
    lows: tuple[float, ...]
    closes: tuple[float, ...]
    volumes: tuple[float, ...]


@functools.cache
def load_bundled_candles() -> tuple[Candle, ...]:
    """The bundled BTC-USD 15-minute candles with their original (2021) open times.

    Volume is converted to base units (BTC): the source publishes it in USD, divided
    here by the bar's close.
    """
    candles = []
    with DATA_FILE.open(newline="") as handle:
        for row in csv.DictReader(handle):
            close = Decimal(row["Close"])
            candles.append(
                Candle(
                    open_time=datetime.fromisoformat(row["Datetime"]).replace(tzinfo=UTC),
                    open=Decimal(row["Open"]),
                    high=Decimal(row["High"]),
                    low=Decimal(row["Low"]),
                    close=close,
                    volume=(Decimal(row["Volume"]) / close).quantize(Decimal("0.00000001")),
                )
            )
    return tuple(candles)


@functools.cache
def _bars() -> _Bars:
    candles = load_bundled_candles()
    return _Bars(
        candles=candles,
        opens=tuple(float(c.open) for c in candles),
        highs=tuple(float(c.high) for c in candles),
        lows=tuple(float(c.low) for c in candles),
        closes=tuple(float(c.close) for c in candles),
        volumes=tuple(float(c.volume) for c in candles),
    )


class ReplayFeed(PriceFeed):
    name = "replay"

    def __init__(self, *, seed: int):
        # The seed only varies the spread and quantities; the prices are the recording's.
        super().__init__(seed=seed)
        self.bars = _bars()
        self.bar_count = len(self.bars.candles)

    def _bar_index(self, second: int) -> tuple[int, float]:
        offset = second - EPOCH
        index, within = divmod(offset, BAR_SECONDS)
        return index % self.bar_count, within / BAR_SECONDS

    def _btc_mid(self, second: int) -> float:
        index, fraction = self._bar_index(second)
        bars = self.bars
        o, h, low, c = bars.opens[index], bars.highs[index], bars.lows[index], bars.closes[index]
        first, second_knot = (low, h) if c >= o else (h, low)
        # Knots at 0, 1/3, 2/3 and 1 of the bar.
        segment = min(2, int(fraction * 3))
        start, end = ((o, first), (first, second_knot), (second_knot, c))[segment]
        return start + (end - start) * (fraction * 3 - segment)

    def mid_at(self, symbol: str, second: int) -> float:
        return self._btc_mid(second) * float(self.spec(symbol).replay_scale)

    def volume_rate(self, symbol: str, second: int) -> float:
        index, _ = self._bar_index(second)
        btc_volume = self.bars.volumes[index] / BAR_SECONDS
        # Same notional as BTC traded, in the symbol's own units.
        return btc_volume / float(self.spec(symbol).replay_scale)

    def _candle(self, spec: SymbolSpec, start: int, end: int, frame: int) -> Candle:
        if frame % BAR_SECONDS or end - start < frame:
            # Shorter than a bar, or still open: sample the intra-bar path.
            return super()._candle(spec, start, end, frame)
        # Whole bars: aggregate the recording exactly.
        first, _ = self._bar_index(start)
        count = frame // BAR_SECONDS
        indexes = [(first + i) % self.bar_count for i in range(count)]
        bars = self.bars
        scale = float(spec.replay_scale)
        return self._make_candle(
            spec,
            start,
            bars.opens[indexes[0]] * scale,
            max(bars.highs[i] for i in indexes) * scale,
            min(bars.lows[i] for i in indexes) * scale,
            bars.closes[indexes[-1]] * scale,
            sum(bars.volumes[i] for i in indexes) / scale,
        )


def replay_bar_for(moment: datetime) -> Candle:
    """The recorded bar the replay feed plays at `moment` (with its original time)."""
    feed_bars = _bars()
    index = math.floor(moment.timestamp() - EPOCH) // BAR_SECONDS % len(feed_bars.candles)
    return feed_bars.candles[index]


__all__ = [
    "BAR_SECONDS",
    "ReplayFeed",
    "load_bundled_candles",
    "replay_bar_for",
    "timeframe_seconds",
]
