"""The kill switch stops everything and cancels open orders; reconciliation settles the
record with the exchange both ways."""

from __future__ import annotations

import io
from decimal import Decimal as D

import pytest
from django.core.management import call_command

from exchanges.base import OrderRequest
from tests.factories import OrderFactory, StrategyConfigFactory
from trading.models import Order, OrderSource, OrderStatus, Position, RiskLimits
from trading.services.orders import order_place, order_submit
from trading.services.reconciliation import reconcile
from trading.services.risk import kill_switch_engage, kill_switch_release
from trading.services.tick import tick_run
from trading.strategies.base import OrderIntent

pytestmark = pytest.mark.django_db


def tick(paper, manager):
    return tick_run(
        symbol="BTCUSDT",
        exchange=paper,
        manager=manager,
        submit=lambda o: order_submit(order=o, exchange=paper),
    )


def resting_iceberg():
    return StrategyConfigFactory(
        name="iceberg-btc",
        kind="iceberg",
        symbol="BTCUSDT",
        params={
            "side": "BUY",
            "total_quantity": "0.01",
            "visible_quantity": "0.002",
            "limit_price": "60000",
        },
    )


def test_kill_switch_cancels_open_orders_and_refuses_new_ones(paper, manager, clock):
    resting_iceberg()
    tick(paper, manager)
    child = Order.objects.get(intent_key="child-1")
    assert child.status == OrderStatus.OPEN
    paper.create_order(
        OrderRequest(
            symbol="BTCUSDT",
            side="BUY",
            order_type="LIMIT",
            quantity=D("0.002"),
            price=D("59000"),
            client_order_id="placed-by-hand-1",
        )
    )

    result = kill_switch_engage(reason="exchange acting strange", exchange=paper)

    assert result["canceled"] == 2 and result["failed"] == []
    assert paper.fetch_open_orders("BTCUSDT") == []
    child.refresh_from_db()
    assert child.status == OrderStatus.CANCELED
    limits = RiskLimits.objects.get()
    assert limits.kill_switch_engaged and limits.kill_switch_reason == "exchange acting strange"

    clock.advance(5)
    tick(paper, manager)  # the iceberg hears of the cancel and pauses: nothing is sent
    assert not Order.objects.filter(error_code="risk.kill_switch").exists()
    assert Order.objects.filter(strategy__name="iceberg-btc").count() == 1
    assert paper.fetch_open_orders("BTCUSDT") == []

    kill_switch_release(reason="all clear")
    clock.advance(5)
    tick(paper, manager)
    assert len(paper.fetch_open_orders("BTCUSDT")) == 1


def test_the_kill_switch_refuses_an_order_placed_by_hand(paper, manager, clock):
    kill_switch_engage(reason="exchange acting strange", exchange=paper)
    order = order_place(
        intent=OrderIntent(key="by-hand", symbol="BTCUSDT", side="BUY", quantity=D("0.002")),
        exchange=paper,
        source=OrderSource.API,
    )
    assert (order.status, order.error_code) == (OrderStatus.REJECTED, "risk.kill_switch")
    assert "exchange acting strange" in order.error_message
    assert paper.fetch_open_orders("BTCUSDT") == []


def test_kill_switch_from_the_command_line(db, settings):
    settings.EXCHANGE = "paper"
    out = io.StringIO()
    call_command("killswitch", "engage", "--reason", "manual stop", stdout=out)
    assert "ENGAGED: manual stop" in out.getvalue()
    assert RiskLimits.objects.get().kill_switch_engaged
    call_command("killswitch", "status", stdout=out)
    assert "Kill switch ENGAGED (manual stop)" in out.getvalue()
    call_command("killswitch", "release", stdout=out)
    assert not RiskLimits.objects.get().kill_switch_engaged


def test_reconciliation_adopts_what_exists_only_on_the_exchange(paper):
    paper.create_order(
        OrderRequest(
            symbol="BTCUSDT",
            side="BUY",
            order_type="LIMIT",
            quantity=D("0.002"),
            price=D("60000"),
            client_order_id="resting-elsewhere",
        )
    )
    paper.create_order(
        OrderRequest(
            symbol="BTCUSDT",
            side="BUY",
            order_type="MARKET",
            quantity=D("0.003"),
            client_order_id="filled-elsewhere",
        )
    )

    report = reconcile(exchange=paper, symbols=["BTCUSDT"])

    resting = Order.objects.get(client_order_id="resting-elsewhere")
    assert (resting.source, resting.status, resting.quantity) == (
        OrderSource.RECONCILIATION,
        OrderStatus.OPEN,
        D("0.002"),
    )
    filled = Order.objects.get(client_order_id="filled-elsewhere")
    assert (filled.status, filled.filled_quantity, filled.average_price) == (
        OrderStatus.FILLED,
        D("0.003"),
        D("65001"),
    )
    assert filled.fills.count() == 1
    position = Position.objects.get(symbol="BTCUSDT")
    assert (position.quantity, position.entry_price) == (D("0.003"), D("65001"))
    assert len(report.adopted_orders) == 2 and len(report.adopted_fills) == 1
    assert report.corrected_positions == []

    # A second pass finds nothing new.
    again = reconcile(exchange=paper, symbols=["BTCUSDT"])
    assert not again.changed


def test_reconciliation_resolves_orders_the_exchange_does_not_know(paper):
    ghost = OrderFactory(exchange="paper", status=OrderStatus.OPEN, exchange_order_id="999999")
    report = reconcile(exchange=paper, symbols=["BTCUSDT"])
    ghost.refresh_from_db()
    assert (ghost.status, ghost.error_code) == (OrderStatus.EXPIRED, "reconcile.not_on_exchange")
    assert "no longer knows this order" in ghost.error_message
    assert report.errors == []


def test_reconciliation_settles_unsent_orders(paper, clock):
    stale = OrderFactory(exchange="paper", order_type="MARKET", price=None, quantity=D("0.002"))
    Order.objects.filter(pk=stale.pk).update(created_at=stale.created_at.replace(year=2020))
    # Sent by a process that died before recording the answer: the exchange never got it.
    lost = OrderFactory(
        exchange="paper",
        order_type="MARKET",
        price=None,
        quantity=D("0.002"),
        status=OrderStatus.SUBMITTING,
    )

    reconcile(exchange=paper, symbols=["BTCUSDT"])

    stale.refresh_from_db()
    lost.refresh_from_db()
    assert (stale.status, stale.error_code) == (OrderStatus.CANCELED, "not_sent")
    assert lost.status == OrderStatus.FILLED  # looked up, not there, recent: sent once
    assert [a.outcome for a in lost.attempts.all()] == ["not_found", "accepted"]


def test_reconciliation_takes_the_exchange_position_when_the_record_disagrees(paper):
    paper.create_order(
        OrderRequest(
            symbol="BTCUSDT",
            side="SELL",
            order_type="MARKET",
            quantity=D("0.004"),
            client_order_id="short-elsewhere",
        )
    )
    reconcile(exchange=paper, symbols=["BTCUSDT"])
    Position.objects.filter(symbol="BTCUSDT").update(quantity=D("-1"))

    report = reconcile(exchange=paper, symbols=["BTCUSDT"])

    assert report.corrected_positions == ["BTCUSDT BOTH: -1 → -0.004"]
    assert Position.objects.get(symbol="BTCUSDT").quantity == D("-0.004")
