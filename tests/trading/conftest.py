"""A paper exchange on a scripted price path and a hand-driven clock, for exact tests of
the trading services; a recorder of the events the dashboard's group receives."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from asgiref.sync import async_to_sync
from channels.layers import channel_layers, get_channel_layer

from exchanges.base import MarketSnapshot
from exchanges.market_data import SyntheticFeed
from exchanges.paper import PaperExchange
from tests.conftest import PINNED_NOW
from trading.services.strategy_manager import StrategyManager
from xquant import realtime

# Reconciliation and the daily loss compare exchange times with the wall clock: the `clock`
# fixture pins the wall clock to the simulated start, far from a day's reset, so both
# agree whatever the date the suite runs on.
T0 = PINNED_NOW


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
    with time_machine.travel(T0, tick=True):
        yield Clock()


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


class EventRecorder:
    """A channel in the dashboard group, as a consumer would have: what it received."""

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(realtime.DASHBOARD_GROUP, self.channel)

    def drain(self) -> list[tuple[str, dict]]:
        async def receive_all() -> list[tuple[str, dict]]:
            events = []
            while True:
                try:
                    message = await asyncio.wait_for(self.layer.receive(self.channel), 0.05)
                except TimeoutError:
                    return events
                events.extend((e["event"], e["data"]) for e in realtime.events_of(message))

        return async_to_sync(receive_all)()

    def of_type(self, event_type: str) -> list[dict]:
        return [data for event, data in self.drain() if event == event_type]


@pytest.fixture
def dashboard_events(settings):
    """Events published to the dashboard group during the test (in-memory layer)."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layers.backends.clear()
    yield EventRecorder()
    channel_layers.backends.clear()
