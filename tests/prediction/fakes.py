"""An exchange that serves candles from memory and records what it was asked.

It stands at the exchange seam (exchanges.base.Exchange); everything else is real."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from exchanges.base import Candle, Exchange


def make_bars(start: datetime, count: int, step: timedelta, price: float = 100.0) -> list[Candle]:
    bars = []
    for i in range(count):
        p = Decimal(str(price + i))
        bars.append(Candle(start + i * step, p, p + 1, p - 1, p + Decimal("0.5"), Decimal("10")))
    return bars


class CandleFeedExchange(Exchange):
    # Stands in for the real exchange: its candles are real market data.
    name = "binance"

    def __init__(self, bars: list[Candle]):
        self.bars = sorted(bars, key=lambda b: b.open_time)
        self.requests: list[tuple[str, str, datetime | None, int]] = []

    def fetch_ohlcv(self, symbol, timeframe, *, since=None, limit=500):
        self.requests.append((symbol, timeframe, since, limit))
        return [b for b in self.bars if since is None or b.open_time >= since][:limit]

    def _unused(self, *args, **kwargs):
        raise NotImplementedError("not needed by research")

    load_markets = market_snapshot = create_order = cancel_order = fetch_order = _unused
    fetch_open_orders = fetch_fills = fetch_balance = fetch_positions = _unused
    set_leverage = set_margin_mode = set_position_mode = sync_time = _unused


CandleFeedExchange.__abstractmethods__ = frozenset()
