"""The risk state the guards read: one symbol's exposure for a tick, the whole book for
anyone else, and today's loss always account-wide."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from trading.models import Order, OrderSource, OrderStatus, Position, RealizedPnlHour
from trading.selectors import risk_limits_get
from trading.services.risk import loss_today, risk_state_get

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 12, 30, tzinfo=UTC)


def _position(symbol: str, quantity: str, unrealized: str, side: str = "BOTH") -> None:
    Position.objects.create(
        exchange="paper",
        symbol=symbol,
        position_side=side,
        quantity=D(quantity),
        entry_price=D("100"),
        unrealized_pnl=D(unrealized),
    )


def _order(cid: str, symbol: str, side: str, quantity: str, filled: str, status: str) -> None:
    Order.objects.create(
        client_order_id=cid,
        exchange="paper",
        symbol=symbol,
        side=side,
        order_type="LIMIT",
        quantity=D(quantity),
        filled_quantity=D(filled),
        price=D("100"),
        status=status,
        source=OrderSource.API,
    )


@pytest.fixture
def book():
    limits = risk_limits_get()
    limits.day_reset_hour_utc = 0
    limits.save()
    _position("BTCUSDT", "0.5", "-12.25")
    _position("ETHUSDT", "-2", "3.5")
    _position("SOLUSDT", "0", "0")  # closed
    _order("btc-open", "BTCUSDT", "BUY", "0.3", "0.1", OrderStatus.PARTIALLY_FILLED)
    _order("btc-done", "BTCUSDT", "BUY", "1", "1", OrderStatus.FILLED)
    _order("eth-open", "ETHUSDT", "SELL", "1", "0", OrderStatus.OPEN)
    RealizedPnlHour.objects.create(
        exchange="paper", hour=NOW.replace(hour=3, minute=0), realized_net=D("-4")
    )
    # Yesterday's hour: the day started at 00:00 UTC.
    RealizedPnlHour.objects.create(
        exchange="paper", hour=datetime(2026, 3, 1, 23, tzinfo=UTC), realized_net=D("-100")
    )
    return limits


def test_a_ticks_risk_state_holds_its_symbol_and_the_whole_accounts_loss(book):
    state = risk_state_get(exchange_name="paper", symbol="BTCUSDT", now=NOW)
    assert state.positions == {("BTCUSDT", "BOTH"): D("0.5")}
    assert state.working == {("BTCUSDT", "BOTH", "BUY"): D("0.2")}
    # Realised today -4, unrealised of every position -12.25 + 3.5.
    assert state.loss_today == D("12.75")
    assert state.loss_today == loss_today(exchange_name="paper", limits=book, now=NOW)


def test_the_whole_risk_state_holds_every_open_position_and_working_order(book):
    state = risk_state_get(exchange_name="paper", now=NOW)
    assert state.positions == {("BTCUSDT", "BOTH"): D("0.5"), ("ETHUSDT", "BOTH"): D("-2")}
    assert state.working == {
        ("BTCUSDT", "BOTH", "BUY"): D("0.2"),
        ("ETHUSDT", "BOTH", "SELL"): D("1"),
    }
    assert state.loss_today == D("12.75")
