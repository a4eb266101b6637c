from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from exchanges.base import MarketSnapshot
from exchanges.market_data.base import PriceFeed

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    """Resolving or connecting to any host but this machine fails the test at once."""
    connect, getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def refuse(host) -> None:
        if host not in LOOPBACK:
            raise AssertionError(f"test tried to reach {host}: only loopback is allowed")

    def guarded_connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            refuse(address[0])
        return connect(sock, address)

    def guarded_getaddrinfo(host, *args, **kwargs):
        refuse(host.decode() if isinstance(host, bytes) else host)
        return getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)


class FakeClock:
    """An injectable clock that only moves when told to."""

    def __init__(self, start: datetime = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


class ScriptedFeed(PriceFeed):
    """A feed whose top of book the test sets: exact prices for exact assertions."""

    name = "scripted"

    def __init__(self):
        super().__init__(seed=0)
        self.books = {
            "BTCUSDT": (Decimal("60000.0"), Decimal("60000.1")),
            "ETHUSDT": (Decimal("3000.00"), Decimal("3000.01")),
        }

    def set(self, symbol: str, bid: str, ask: str) -> None:
        self.books[symbol] = (Decimal(bid), Decimal(ask))

    def snapshot(self, symbol, at):
        bid, ask = self.books[symbol]
        return MarketSnapshot(symbol=symbol, bid=bid, ask=ask, timestamp=at)

    def mid_at(self, symbol, second):
        bid, ask = self.books[symbol]
        return float((bid + ask) / 2)

    def volume_rate(self, symbol, second):
        return 1.0


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def feed():
    return ScriptedFeed()


@pytest.fixture
def paper(db, feed, clock):
    from exchanges.paper import PaperExchange

    return PaperExchange(
        feed=feed,
        clock=clock,
        account="test",
        starting_balance="10000",
        maker_fee="0.0002",
        taker_fee="0.0004",
        symbols=["BTCUSDT", "ETHUSDT"],
    )
