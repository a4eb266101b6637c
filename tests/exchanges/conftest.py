from __future__ import annotations

import json
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from exchanges.base import MarketSnapshot, OrderRequest
from exchanges.market_data.base import PriceFeed
from tests.conftest import child_env

LOOPBACK = ("127.0.0.1", "::1", "localhost")
ROOT = Path(__file__).resolve().parents[2]

#: The start of a script run on a fresh SQLite database (run_on_sqlite): migrated, with
#: `paper` on a scripted feed and clock.
SQLITE_PAPER = """
import json, threading
from decimal import Decimal as D
import django
django.setup()
from django.core.management import call_command
from django.db import connections
call_command("migrate", verbosity=0)

from exchanges.base import OrderRequest
from exchanges.models import PaperPosition, PaperTrade
from exchanges.paper import PaperExchange
from tests.exchanges.conftest import FakeClock, ScriptedFeed

feed, clock = ScriptedFeed(), FakeClock()
paper = PaperExchange(feed=feed, clock=clock, account="lite", starting_balance="10000",
                      maker_fee="0.0002", taker_fee="0.0004", symbols=["BTCUSDT", "ETHUSDT"])
"""


def run_on_sqlite(script: str, tmp_path: Path) -> dict:
    """Run SQLITE_PAPER + `script` in a child process on a SQLite database; the JSON
    the script prints last."""
    env = child_env(DATABASE_URL=f"sqlite:///{tmp_path / 'paper.sqlite3'}", REDIS_URL="")
    child = subprocess.run(
        [sys.executable, "-c", SQLITE_PAPER + script], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert child.returncode == 0, child.stderr
    return json.loads(child.stdout.strip().splitlines()[-1])


def order(
    cid: str, side: str, qty: str, *, price: str | None = None, symbol: str = "BTCUSDT", **kw
) -> OrderRequest:
    """A market order, or a limit order when a price is given."""
    return OrderRequest(
        symbol=symbol,
        side=side,
        order_type="LIMIT" if price else "MARKET",
        quantity=Decimal(qty),
        client_order_id=cid,
        price=Decimal(price) if price else None,
        **kw,
    )


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
