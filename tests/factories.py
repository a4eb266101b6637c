"""factory_boy factories for the trading models."""

from __future__ import annotations

import uuid
from decimal import Decimal

import factory
from django.utils import timezone

from trading.models import (
    Fill,
    Order,
    OrderSource,
    OrderStatus,
    Position,
    StrategyConfig,
)


class StrategyConfigFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StrategyConfig

    name = factory.Sequence(lambda n: f"strategy-{n}")
    kind = "twap"
    symbol = "BTCUSDT"
    params = factory.LazyFunction(
        lambda: {
            "side": "BUY",
            "total_quantity": "0.010",
            "slices": 5,
            "interval_seconds": 60,
            "order_type": "MARKET",
            "limit_offset_bps": "0",
            "position_side": "BOTH",
            "reduce_only": False,
        }
    )
    is_active = True


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    client_order_id = factory.LazyFunction(lambda: f"xq{uuid.uuid4().hex[:30]}")
    exchange = "paper"
    symbol = "BTCUSDT"
    side = "BUY"
    order_type = "LIMIT"
    quantity = Decimal("0.010")
    price = Decimal("65000.0")
    status = OrderStatus.PENDING
    source = OrderSource.API


class FillFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Fill

    order = factory.SubFactory(
        OrderFactory, status=OrderStatus.FILLED, filled_quantity=Decimal("0.010")
    )
    exchange = "paper"
    symbol = "BTCUSDT"
    trade_id = factory.Sequence(lambda n: str(1000 + n))
    side = "BUY"
    price = Decimal("65000.0")
    quantity = Decimal("0.010")
    fee = Decimal("0.26")
    executed_at = factory.LazyFunction(timezone.now)


class PositionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Position

    exchange = "paper"
    symbol = "BTCUSDT"
    position_side = "BOTH"
