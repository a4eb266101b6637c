"""Recording fills: each trade moves the positions once however often (and by however
many processes) it is reported."""

from __future__ import annotations

import logging
import threading
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.db import connection, transaction

from exchanges.base import Fill as ExchangeFill
from tests.factories import OrderFactory, StrategyConfigFactory
from trading.models import Fill, Position, RealizedPnlHour, StrategyPosition
from trading.services.fills import fill_record, fills_record

T0 = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
ON_POSTGRESQL = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="processes at once need row locks (PostgreSQL)"
)


def trade(trade_id: str, *, side: str = "BUY", price: str = "65000", quantity: str = "0.010"):
    return ExchangeFill(
        symbol="BTCUSDT",
        trade_id=trade_id,
        exchange_order_id="777",
        side=side,
        price=D(price),
        quantity=D(quantity),
        fee=D("0.26"),
        fee_asset="USDT",
        executed_at=T0 + timedelta(seconds=int(trade_id)),
    )


def strategy_order():
    return OrderFactory(strategy=StrategyConfigFactory(), exchange_order_id="777")


def account_position() -> Position:
    return Position.objects.get(exchange="paper", symbol="BTCUSDT", position_side="BOTH")


def strategy_book(order) -> StrategyPosition:
    return StrategyPosition.objects.get(strategy=order.strategy, symbol="BTCUSDT")


@pytest.mark.django_db
def test_new_fills_are_recorded_with_ids_in_execution_order_and_move_both_books():
    order = strategy_order()
    rows = fills_record(order=order, fills=[trade("2"), trade("1")], mark_price=D("65100"))

    assert [row.trade_id for row in rows] == ["1", "2"]
    assert [row.pk for row in rows] == list(
        Fill.objects.filter(trade_id__in=["1", "2"])
        .order_by("executed_at")
        .values_list("pk", flat=True)
    )
    assert all(not row._state.adding for row in rows)
    for book in (account_position(), strategy_book(order)):
        assert book.quantity == D("0.020")
        assert book.entry_price == D("65000")
        assert book.fees_paid == D("0.52")
        assert book.mark_price == D("65100")
        assert book.unrealized_pnl == D("2.000")
        assert book.opened_at == T0 + timedelta(seconds=1)
    hour = RealizedPnlHour.objects.get(exchange="paper")
    assert hour.hour == T0.replace(minute=0)
    assert hour.realized_net == D("-0.52")


@pytest.mark.django_db
def test_a_trade_reported_again_moves_nothing_and_overlapping_reports_add_only_the_new():
    order = strategy_order()
    assert len(fills_record(order=order, fills=[trade("1"), trade("2")])) == 2
    assert fills_record(order=order, fills=[trade("1"), trade("2")]) == []
    assert fill_record(order=order, fill=trade("2")) is None

    rows = fills_record(order=order, fills=[trade("2"), trade("3", side="SELL", price="65100")])

    assert [row.trade_id for row in rows] == ["3"]
    assert rows[0].realized_pnl == D("1.000")  # 0.010 closed 100 above the entry
    assert Fill.objects.count() == 3
    assert account_position().quantity == D("0.010")
    assert strategy_book(order).quantity == D("0.010")
    assert RealizedPnlHour.objects.get(exchange="paper").realized_net == D("1.000") - 3 * D("0.26")


@pytest.mark.django_db
def test_a_listing_that_repeats_a_trade_records_it_once():
    order = OrderFactory(exchange_order_id="777")  # no strategy: the account's book only

    rows = fills_record(order=order, fills=[trade("1"), trade("1"), trade("2")])

    assert [row.trade_id for row in rows] == ["1", "2"]
    assert account_position().quantity == D("0.020")
    assert not StrategyPosition.objects.exists()


@pytest.mark.django_db
def test_fill_record_records_one_fill_once():
    order = strategy_order()
    row = fill_record(order=order, fill=trade("1"))
    assert row is not None and row.pk == Fill.objects.get().pk
    assert fill_record(order=order, fill=trade("1")) is None
    assert account_position().quantity == D("0.010")


@pytest.mark.django_db
def test_fills_are_published_with_their_ids_on_commit(
    dashboard_events, django_capture_on_commit_callbacks
):
    order = strategy_order()
    with django_capture_on_commit_callbacks(execute=True):
        rows = fills_record(order=order, fills=[trade("1")])

    events = dashboard_events.drain()
    assert [(event, data["id"]) for event, data in events] == [
        ("fill.created", rows[0].pk),
        ("position.updated", account_position().pk),
    ]


@ON_POSTGRESQL
@pytest.mark.django_db(transaction=True)
def test_processes_recording_the_same_trades_at_once_move_the_positions_once(caplog):
    caplog.set_level(logging.INFO, logger="trading.fills")
    order = strategy_order()
    reports = [
        [trade("1"), trade("2"), trade("3")],
        [trade("3"), trade("2")],
        [trade("1"), trade("3"), trade("4")],
        [trade("4"), trade("1")],
    ] * 2
    start = threading.Barrier(len(reports))
    recorded: list[str] = []
    errors: list[BaseException] = []

    def report(fills):
        try:
            connection.ensure_connection()  # connected first, so the reports overlap
            start.wait(timeout=10)
            # Some callers record inside a transaction of their own, some outside one.
            with transaction.atomic() if len(fills) == 2 else nullcontext():
                recorded.extend(row.trade_id for row in fills_record(order=order, fills=fills))
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=report, args=(fills,)) for fills in reports]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    # They took turns on the account position: none had to fall back to one by one.
    assert "already recorded" not in caplog.text
    assert sorted(recorded) == ["1", "2", "3", "4"]
    assert Fill.objects.count() == 4
    assert account_position().quantity == D("0.040")
    assert strategy_book(order).quantity == D("0.040")
    assert RealizedPnlHour.objects.get(exchange="paper").realized_net == -4 * D("0.26")


def _fill(trade_id: str, order, *, side: str, price: str, quantity: str, second: int):
    return ExchangeFill(
        symbol="BTCUSDT",
        trade_id=trade_id,
        exchange_order_id=order.exchange_order_id,
        side=side,
        price=D(price),
        quantity=D(quantity),
        fee=D("0.01"),
        fee_asset="USDT",
        executed_at=T0 + timedelta(seconds=second),
        realized_pnl=D("1.0") if trade_id == "2" else D("0"),
    )


@pytest.mark.parametrize(
    "transactional",
    [
        pytest.param(False, marks=pytest.mark.django_db),
        pytest.param(True, marks=pytest.mark.django_db(transaction=True)),
    ],
    ids=["in-a-transaction", "autocommit-kept-books"],
)
def test_a_fill_learnt_after_a_later_one_is_applied_in_execution_order(transactional):
    """Bought 0.002 at 65000, sold 0.001 at 66000, bought 0.001 at 67000; the sale is
    learnt last. In execution order it realises 1.00 and leaves 0.002 at 66000, as the
    exchange computes; in the order learnt it would realise 0.33."""
    first, sale, second = (
        OrderFactory(exchange_order_id=str(n), side=side)
        for n, side in ((1, "BUY"), (2, "SELL"), (3, "BUY"))
    )
    fills_record(
        order=first,
        fills=[_fill("1", first, side="BUY", price="65000", quantity="0.002", second=1)],
    )
    fills_record(
        order=second,
        fills=[_fill("3", second, side="BUY", price="67000", quantity="0.001", second=3)],
    )
    fills_record(
        order=sale, fills=[_fill("2", sale, side="SELL", price="66000", quantity="0.001", second=2)]
    )

    by_trade = {f.trade_id: f for f in Fill.objects.all()}
    assert {t: f.realized_pnl for t, f in by_trade.items()} == {"1": 0, "2": D("1.0"), "3": 0}
    assert by_trade["2"].exchange_realized_pnl == D("1.0")
    position = account_position()
    assert (position.quantity, position.entry_price) == (D("0.002"), D("66000"))
    assert position.realized_pnl == D("1.0") - 3 * D("0.01")
    assert position.fees_paid == 3 * D("0.01")
    assert sum(h.realized_net for h in RealizedPnlHour.objects.all()) == D("1.0") - 3 * D("0.01")
