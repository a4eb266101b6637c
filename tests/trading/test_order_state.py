"""Creating orders and applying the exchange's reports: a repeated intent, reports about
rows that moved on, fills that arrive before the status, and orders leaving the book."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from django.db import transaction

from exchanges.base import ExchangeOrder, OrderState
from trading.models import (
    AttemptOutcome,
    Order,
    OrderSource,
    OrderStatus,
    Position,
    StrategyConfig,
)
from trading.services.orders import (
    order_apply_state,
    order_create,
    order_request,
    order_submit,
    orders_sync,
)
from trading.services.risk import risk_state_get
from trading.strategies.base import OrderIntent

pytestmark = pytest.mark.django_db(transaction=True)


def _intent(key: str = "", quantity: str = "0.002") -> OrderIntent:
    return OrderIntent(key=key, symbol="BTCUSDT", side="BUY", quantity=D(quantity))


def _create(paper, intent: OrderIntent, strategy: StrategyConfig | None = None) -> Order:
    return order_create(
        intent=intent,
        exchange=paper,
        source=OrderSource.STRATEGY if strategy else OrderSource.API,
        strategy=strategy,
        risk_state=risk_state_get(exchange_name=paper.name),
        reference_price=D("65000.5"),
    )


def _open_on_exchange(order: Order, *, exchange_order_id: str) -> ExchangeOrder:
    """The exchange's report that the order rests on its book, unfilled."""
    return ExchangeOrder(
        symbol=order.symbol,
        client_order_id=order.client_order_id,
        exchange_order_id=exchange_order_id,
        status=OrderState.NEW,
        side=order.side,
        order_type=order.order_type,
        quantity=order.quantity,
        filled_quantity=D("0"),
    )


def test_a_repeated_intent_returns_its_order_and_the_transaction_goes_on(paper):
    strategy = StrategyConfig.objects.create(name="t", kind="twap", symbol="BTCUSDT", params={})
    with transaction.atomic():
        first = _create(paper, _intent("slice-1"), strategy)
        again = _create(paper, _intent("slice-1", quantity="0.003"), strategy)
        other = _create(paper, _intent("slice-2"), strategy)  # the transaction is still usable
    assert again.pk == first.pk and again.quantity == D("0.002")
    assert other.pk != first.pk
    assert Order.objects.filter(strategy=strategy).count() == 2


def test_an_accepted_submission_is_recorded_with_its_attempt_and_fill(paper):
    order = _create(paper, _intent())
    order_submit(order=order, exchange=paper)
    order.refresh_from_db()
    assert order.status == OrderStatus.FILLED and order.filled_quantity == D("0.002")
    assert order.exchange_order_id
    attempts = list(order.attempts.values_list("number", "outcome"))
    assert attempts == [(1, AttemptOutcome.ACCEPTED)]
    assert order.fills.count() == 1


def test_a_report_about_a_row_that_moved_on_is_decided_under_the_lock(paper):
    order = _create(paper, _intent())
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.SUBMITTING)
    stale = Order.objects.get(pk=order.pk)
    # Another process learnt more meanwhile (without touching updated_at).
    Order.objects.filter(pk=order.pk).update(
        status=OrderStatus.CANCELED, exchange_order_id="77", error_message="cancelled by hand"
    )
    report = _open_on_exchange(order, exchange_order_id="77")
    result = order_apply_state(order=stale, state=report, exchange=paper)
    assert result.status == OrderStatus.CANCELED  # "open" after "cancelled" is stale
    stored = Order.objects.get(pk=order.pk)
    assert (stored.status, stored.error_message) == (OrderStatus.CANCELED, "cancelled by hand")


def test_a_report_about_the_row_as_this_process_knows_it_moves_it_on(paper):
    order = _create(paper, _intent())
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.SUBMITTING)
    known = Order.objects.get(pk=order.pk)
    report = _open_on_exchange(order, exchange_order_id="78")
    result = order_apply_state(order=known, state=report, exchange=paper)
    assert (result.status, result.exchange_order_id) == (OrderStatus.OPEN, "78")
    stored = Order.objects.get(pk=order.pk)
    assert (stored.status, stored.exchange_order_id) == (OrderStatus.OPEN, "78")


def _resting_buys(paper, clock, prices: list[str]) -> list[Order]:
    # The sync may ask for fills since the submissions (wall clock): keep the exchange's
    # clock on it however long the suite has run.
    clock.now = datetime.now(UTC)
    orders = []
    for price in prices:
        order = _create(
            paper,
            OrderIntent(
                key="",
                symbol="BTCUSDT",
                side="BUY",
                quantity=D("0.002"),
                order_type="LIMIT",
                price=D(price),
            ),
        )
        order_submit(order=order, exchange=paper)
        order.refresh_from_db()
        assert order.status == OrderStatus.OPEN
        orders.append(order)
    return orders


def test_a_resting_order_filled_meanwhile_is_recorded_with_its_totals(paper, feed, clock):
    [order] = _resting_buys(paper, clock, ["64990.0"])
    feed.quote("BTCUSDT", "64980.0", "64985.0")  # the book now crosses the bid
    clock.advance(1)
    paper.market_snapshot("BTCUSDT")
    assert orders_sync(exchange=paper, symbol="BTCUSDT") == 1
    order.refresh_from_db()
    assert (order.status, order.filled_quantity, order.average_price) == (
        OrderStatus.FILLED,
        D("0.002"),
        D("64990.0"),
    )
    assert order.fills.count() == 1
    assert Position.objects.get(symbol="BTCUSDT").quantity == D("0.002")


def _fills_asked(paper, monkeypatch) -> list[dict]:
    asked = []
    fetch = paper.fetch_fills

    def recording(symbol, **kwargs):
        asked.append(kwargs)
        return fetch(symbol, **kwargs)

    monkeypatch.setattr(paper, "fetch_fills", recording)
    return asked


def test_the_one_order_that_left_the_book_is_asked_about_alone(paper, feed, clock, monkeypatch):
    [order] = _resting_buys(paper, clock, ["64990.0"])
    feed.quote("BTCUSDT", "64980.0", "64985.0")  # the book now crosses the bid
    clock.advance(1)
    paper.market_snapshot("BTCUSDT")  # fills it
    asked = _fills_asked(paper, monkeypatch)
    assert orders_sync(exchange=paper, symbol="BTCUSDT") == 1
    assert asked == [{"exchange_order_id": order.exchange_order_id}]
    order.refresh_from_db()
    assert (order.status, order.fills.count()) == (OrderStatus.FILLED, 1)


def test_an_order_filled_and_one_cancelled_on_the_exchange_are_both_followed(paper, feed, clock):
    _, gone = _resting_buys(paper, clock, ["64990.0", "64000.0"])
    feed.quote("BTCUSDT", "64980.0", "64985.0")  # fills the first
    clock.advance(1)
    paper.market_snapshot("BTCUSDT")
    paper.cancel_order("BTCUSDT", gone.client_order_id)  # cancelled on the exchange's side
    assert orders_sync(exchange=paper, symbol="BTCUSDT") == 2
    gone.refresh_from_db()
    assert gone.status == OrderStatus.CANCELED


def test_several_orders_that_moved_are_asked_about_together(paper, feed, clock, monkeypatch):
    orders = _resting_buys(paper, clock, ["64990.0", "64989.0"])
    feed.quote("BTCUSDT", "64980.0", "64985.0")  # crosses both
    clock.advance(1)
    paper.market_snapshot("BTCUSDT")
    asked = _fills_asked(paper, monkeypatch)
    assert orders_sync(exchange=paper, symbol="BTCUSDT") == 2
    [kwargs] = asked
    assert set(kwargs) == {"since"}
    assert kwargs["since"] < min(o.submitted_at for o in orders)
    for order in orders:
        order.refresh_from_db()
        assert (order.status, order.fills.count()) == (OrderStatus.FILLED, 1)


def test_a_fill_report_is_recorded_with_its_attempt_and_fills(paper):
    order = _create(paper, _intent())
    paper.fetch_balance()  # the paper account exists
    order_submit(order=order, exchange=paper)
    order.refresh_from_db()
    assert (order.status, order.filled_quantity) == (OrderStatus.FILLED, D("0.002"))
    assert list(order.attempts.values_list("number", "outcome")) == [(1, AttemptOutcome.ACCEPTED)]
    assert order.fills.count() == 1


def test_a_fill_report_about_a_row_that_moved_on_keeps_the_fills_and_decides_under_the_lock(
    paper,
):
    order = _create(paper, _intent())
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.SUBMITTING)
    stale = Order.objects.get(pk=order.pk)
    report = paper.create_order(order_request(order))  # filled at once
    # Another process heard first that the order is on the book.
    Order.objects.filter(pk=order.pk).update(
        status=OrderStatus.OPEN, exchange_order_id=report.exchange_order_id
    )
    result = order_apply_state(order=stale, state=report, exchange=paper)
    stored = Order.objects.get(pk=order.pk)
    assert (stored.status, stored.filled_quantity) == (OrderStatus.FILLED, D("0.002"))
    assert (result.status, result.average_price) == (OrderStatus.FILLED, stored.average_price)
    assert stored.fills.count() == 1
    assert Position.objects.get(symbol="BTCUSDT").quantity == D("0.002")
