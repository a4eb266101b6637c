"""Database constraints on PostgreSQL: the rules hold even when Python is bypassed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from tests.factories import FillFactory, OrderFactory, PositionFactory, StrategyConfigFactory
from trading.models import (
    ORDER_TRANSITIONS,
    TERMINAL_STATUSES,
    OrderSource,
    OrderStatus,
    order_can_transition,
)

pytestmark = pytest.mark.django_db


def assert_rejected_by_database(create):
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


def test_duplicate_client_order_id_is_rejected_by_the_database():
    OrderFactory(client_order_id="xq-dup-1")
    assert_rejected_by_database(lambda: OrderFactory(client_order_id="xq-dup-1"))


def test_duplicate_fill_trade_id_is_rejected_by_the_database():
    fill = FillFactory(trade_id="777")
    assert_rejected_by_database(lambda: FillFactory(trade_id="777", order=fill.order))


def test_same_trade_id_on_another_symbol_is_a_different_fill():
    FillFactory(trade_id="778", symbol="BTCUSDT")
    FillFactory(trade_id="778", symbol="ETHUSDT")


def test_duplicate_exchange_order_id_is_rejected_but_many_unsent_orders_are_fine():
    OrderFactory(exchange_order_id=None)
    OrderFactory(exchange_order_id=None)
    OrderFactory(exchange_order_id="4051234567")
    assert_rejected_by_database(lambda: OrderFactory(exchange_order_id="4051234567"))


def test_one_position_per_symbol_and_position_side():
    PositionFactory(symbol="BTCUSDT", position_side="LONG")
    PositionFactory(symbol="BTCUSDT", position_side="SHORT")
    assert_rejected_by_database(lambda: PositionFactory(symbol="BTCUSDT", position_side="LONG"))


@pytest.mark.parametrize(
    "fields",
    [
        {"quantity": Decimal("0")},
        {"quantity": Decimal("-1")},
        {"price": Decimal("0")},
        {"order_type": "LIMIT", "price": None},
        {"filled_quantity": Decimal("0.011")},
        {"filled_quantity": Decimal("-0.001")},
        {"status": OrderStatus.FILLED, "filled_quantity": Decimal("0.005")},
        {"status": "lost"},
        {"side": "HOLD"},
        {"reduce_only": True, "position_side": "LONG"},
        {"source": OrderSource.STRATEGY, "strategy": None},
    ],
)
def test_order_check_constraints(fields):
    assert_rejected_by_database(lambda: OrderFactory(**fields))


def test_order_constraints_accept_a_valid_filled_strategy_order():
    strategy = StrategyConfigFactory()
    order = OrderFactory(
        source=OrderSource.STRATEGY,
        strategy=strategy,
        status=OrderStatus.FILLED,
        filled_quantity=Decimal("0.010"),
        average_price=Decimal("65001.5"),
    )
    order.refresh_from_db()
    assert order.filled_quantity == Decimal("0.010")
    assert order.average_price == Decimal("65001.5")


@pytest.mark.parametrize(
    "fields",
    [
        {"position_side": "LONG", "quantity": Decimal("-1")},
        {"position_side": "SHORT", "quantity": Decimal("1")},
        {"entry_price": Decimal("-5")},
    ],
)
def test_position_check_constraints(fields):
    assert_rejected_by_database(lambda: PositionFactory(**fields))


def test_fill_quantity_and_price_must_be_positive():
    order = OrderFactory()
    assert_rejected_by_database(lambda: FillFactory(order=order, quantity=Decimal("0")))
    assert_rejected_by_database(lambda: FillFactory(order=order, price=Decimal("0")))


def test_a_strategy_with_orders_cannot_be_deleted():
    strategy = StrategyConfigFactory()
    OrderFactory(source=OrderSource.STRATEGY, strategy=strategy)
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        strategy.delete()


def test_decimals_keep_full_precision():
    order = OrderFactory(quantity=Decimal("0.000000000123"), price=Decimal("12345678.123456789012"))
    order.refresh_from_db()
    assert order.quantity == Decimal("0.000000000123")
    assert order.price == Decimal("12345678.123456789012")


def test_order_state_machine():
    assert order_can_transition(OrderStatus.PENDING, OrderStatus.SUBMITTING)
    assert order_can_transition(OrderStatus.SUBMITTING, OrderStatus.FILLED)
    assert order_can_transition(OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)
    assert not order_can_transition(OrderStatus.PENDING, OrderStatus.FILLED)
    assert not order_can_transition(OrderStatus.FILLED, OrderStatus.CANCELED)
    assert not order_can_transition(OrderStatus.REJECTED, OrderStatus.SUBMITTING)
    # Terminal statuses lead nowhere; every other status leads somewhere.
    for status in OrderStatus.values:
        assert (status in ORDER_TRANSITIONS) == (status not in TERMINAL_STATUSES)


def test_one_order_per_strategy_intent_key():
    strategy = StrategyConfigFactory()
    OrderFactory(source=OrderSource.STRATEGY, strategy=strategy, intent_key="slice-1")
    OrderFactory(source=OrderSource.STRATEGY, strategy=strategy, intent_key="slice-2")
    # Manual orders carry no key and are not limited.
    OrderFactory(intent_key="")
    OrderFactory(intent_key="")
    assert_rejected_by_database(
        lambda: OrderFactory(source=OrderSource.STRATEGY, strategy=strategy, intent_key="slice-1")
    )
