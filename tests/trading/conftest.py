"""A paper exchange on a scripted price path and a hand-driven clock, for exact tests of
the trading services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from exchanges.base import MarketSnapshot
from exchanges.market_data import SyntheticFeed
from exchanges.paper import PaperExchange
from trading.services.strategy_manager import StrategyManager

# Reconciliation compares exchange times with the wall clock: start the simulated clock
# at the real minute so both agree.
T0 = datetime.now(UTC).replace(second=0, microsecond=0)


class ScriptedFeed(SyntheticFeed):
    """The synthetic feed, except for symbols given an exact bid/ask with `quote`."""

    def __init__(self):
        super().__init__(seed=7)
        self.quotes: dict[str, tuple[Decimal, Decimal]] = {}

    def quote(self, symbol: str, bid: str, ask: str) -> None:
        self.quotes[symbol] = (Decimal(bid), Decimal(ask))

    def snapshot(self, symbol: str, at: datetime) -> MarketSnapshot:
        if symbol not in self.quotes:
            return super().snapshot(symbol, at)
        bid, ask = self.quotes[symbol]
        return MarketSnapshot(symbol=symbol, bid=bid, ask=ask, timestamp=at)


class Clock:
    def __init__(self, start: datetime = T0):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def feed():
    feed = ScriptedFeed()
    feed.quote("BTCUSDT", "65000.0", "65001.0")
    feed.quote("ETHUSDT", "3500.00", "3500.10")
    return feed


@pytest.fixture
def paper(db, feed, clock):
    return PaperExchange(
        feed=feed,
        clock=clock,
        starting_balance="100000",
        maker_fee="0.0002",
        taker_fee="0.0004",
        symbols=["BTCUSDT", "ETHUSDT"],
    )


@pytest.fixture
def manager(paper):
    return StrategyManager(paper)
