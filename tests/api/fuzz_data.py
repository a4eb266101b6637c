"""Objects with small ids (1, 2, 3), so that generated requests for /{id} paths find
real rows as well as missing ones (Hypothesis tries small integers first)."""

from __future__ import annotations

from decimal import Decimal

from django.core.management.color import no_style
from django.db import connection
from django.utils import timezone

from tests.api.test_strategies_api import TWAP_PARAMS, twap_state_after_two_slices_one_filled
from trading.models import (
    Fill,
    FuturesSettings,
    Order,
    OrderAttempt,
    OrderStatus,
    Position,
    StrategyConfig,
    StrategyPosition,
    TraderHeartbeat,
)


def seed_objects() -> None:
    now = timezone.now()
    twap = StrategyConfig.objects.create(
        pk=1,
        name="fuzz twap",
        kind="twap",
        symbol="BTCUSDT",
        params=TWAP_PARAMS,
        state=twap_state_after_two_slices_one_filled(),
        is_active=True,
    )
    StrategyConfig.objects.create(
        pk=2,
        name="fuzz rsi",
        kind="technical",
        symbol="ETHUSDT",
        params={"signal": "rsi", "quantity": "0.5"},
    )
    filled = Order.objects.create(
        pk=1,
        client_order_id="xqfuzz1",
        exchange="paper",
        symbol="BTCUSDT",
        side="BUY",
        order_type="MARKET",
        quantity=Decimal("0.002"),
        status=OrderStatus.FILLED,
        filled_quantity=Decimal("0.002"),
        average_price=Decimal("65000"),
        strategy=twap,
        source="strategy",
        intent_key="slice-0",
        attempt_count=1,
    )
    Order.objects.create(
        pk=2,
        client_order_id="xqfuzz2",
        exchange="paper",
        symbol="BTCUSDT",
        side="SELL",
        order_type="LIMIT",
        quantity=Decimal("0.01"),
        price=Decimal("90000"),
        source="api",
        reason="manual",
    )
    OrderAttempt.objects.create(
        order=filled,
        number=1,
        action="submit",
        outcome="accepted",
        started_at=now,
        duration_ms=Decimal("4.2"),
    )
    Fill.objects.create(
        pk=1,
        order=filled,
        strategy=twap,
        exchange="paper",
        symbol="BTCUSDT",
        trade_id="fuzz-1",
        side="BUY",
        price=Decimal("65000"),
        quantity=Decimal("0.002"),
        fee=Decimal("0.052"),
        executed_at=now,
    )
    Position.objects.create(
        pk=1,
        exchange="paper",
        symbol="BTCUSDT",
        quantity=Decimal("0.002"),
        entry_price=Decimal("65000"),
        mark_price=Decimal("65100"),
        unrealized_pnl=Decimal("0.2"),
        marked_at=now,
        opened_at=now,
    )
    StrategyPosition.objects.create(
        pk=1,
        strategy=twap,
        exchange="paper",
        symbol="BTCUSDT",
        quantity=Decimal("0.002"),
        entry_price=Decimal("65000"),
    )
    FuturesSettings.objects.create(
        exchange="paper",
        symbol="BTCUSDT",
        leverage=3,
        margin_mode="isolated",
        hedge_mode=False,
        applied_at=now,
    )
    for symbol in ("BTCUSDT", "ETHUSDT"):
        TraderHeartbeat.objects.create(symbol=symbol, last_tick_at=now, last_tick_ms=1)
    # Rows inserted with explicit ids leave the sequences behind: move them on, or the
    # next row created through the API would collide with id 1.
    models = [StrategyConfig, Order, OrderAttempt, Fill, Position, StrategyPosition]
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), models):
            cursor.execute(sql)
