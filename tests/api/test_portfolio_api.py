"""Fills, positions (with unrealised PnL at the latest mid) and per-strategy positions."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.api.conftest import error_fields
from tests.factories import FillFactory, OrderFactory, PositionFactory, StrategyConfigFactory
from trading.models import OrderStatus, StrategyPosition

pytestmark = pytest.mark.django_db


def test_fills_list_newest_first_with_their_order(api):
    old = FillFactory(executed_at=timezone.now() - timedelta(minutes=5), trade_id="1")
    new = FillFactory(trade_id="2", price=Decimal("65100.5"), fee=Decimal("-0.01"))

    body = api.get("/api/fills").json()

    assert [row["id"] for row in body["results"]] == [new.pk, old.pk]
    row = body["results"][0]
    assert row["order"] == new.order_id
    assert row["client_order_id"] == new.order.client_order_id
    assert (row["price"], row["quantity"], row["fee"]) == ("65100.5", "0.01", "-0.01")


def test_fills_filter_by_symbol_side_strategy_order_and_time(api):
    strategy = StrategyConfigFactory()
    order = OrderFactory(
        strategy=strategy,
        source="strategy",
        intent_key="k",
        status=OrderStatus.FILLED,
        filled_quantity=Decimal("0.010"),
    )
    mine = FillFactory(order=order, strategy=strategy, trade_id="a")
    FillFactory(trade_id="b", symbol="ETHUSDT")
    FillFactory(trade_id="c", side="SELL", executed_at=timezone.now() - timedelta(days=2))

    def ids(query: str) -> set[int]:
        response = api.get(f"/api/fills?{query}")
        assert response.status_code == 200, response.json()
        return {row["id"] for row in response.json()["results"]}

    assert ids(f"strategy={strategy.pk}") == {mine.pk}
    assert ids(f"order={order.pk}") == {mine.pk}
    assert len(ids("symbol=ETHUSDT")) == 1
    assert len(ids("side=SELL")) == 1
    yesterday = (timezone.now() - timedelta(days=1)).isoformat()
    assert len(ids(f"executed_after={yesterday}".replace("+", "%2B"))) == 2
    assert "order" in error_fields(api.get("/api/fills?order=x"))


def test_positions_carry_unrealised_pnl_at_the_latest_mark(api):
    marked_at = timezone.now()
    PositionFactory(
        symbol="BTCUSDT",
        quantity=Decimal("-0.5"),
        entry_price=Decimal("60000"),
        mark_price=Decimal("61000"),
        unrealized_pnl=Decimal("-500"),
        realized_pnl=Decimal("12.34"),
        marked_at=marked_at,
    )
    PositionFactory(symbol="ETHUSDT", quantity=Decimal("0"))

    body = api.get("/api/positions?open=true").json()

    assert body["count"] == 1
    row = body["results"][0]
    assert (row["symbol"], row["quantity"], row["mark_price"], row["unrealized_pnl"]) == (
        "BTCUSDT",
        "-0.5",
        "61000",
        "-500",
    )
    assert row["notional"] == "30500"
    assert row["marked_at"].startswith(marked_at.strftime("%Y-%m-%dT%H:%M"))
    assert api.get("/api/positions").json()["count"] == 2
    assert api.get("/api/positions?open=false").json()["count"] == 1
    assert api.get("/api/positions?symbol=ETHUSDT").json()["count"] == 1


def test_strategy_positions_list_by_strategy(api):
    a, b = StrategyConfigFactory(), StrategyConfigFactory()
    for strategy in (a, b):
        StrategyPosition.objects.create(
            strategy=strategy, exchange="paper", symbol="BTCUSDT", unrealized_pnl=Decimal("3")
        )
    body = api.get(f"/api/strategy-positions?strategy={b.pk}").json()
    assert [row["strategy"] for row in body["results"]] == [b.pk]
    assert body["results"][0]["unrealized_pnl"] == "3"
    assert api.get("/api/strategy-positions").json()["count"] == 2
