"""Orders through the API: list with filters and pages, read with attempts, bad input.

Placing and cancelling against an exchange: test_orders_trading_api.py.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.api.conftest import error_fields
from tests.factories import FillFactory, OrderFactory, StrategyConfigFactory
from trading.models import Order, OrderAttempt, OrderStatus

pytestmark = pytest.mark.django_db


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def test_list_is_newest_first_with_the_strategy_name(api):
    strategy = StrategyConfigFactory(name="twap-btc")
    old = OrderFactory()
    new = OrderFactory(strategy=strategy, source="strategy", intent_key="slice-1")
    Order.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=1))

    response = api.get("/api/orders")

    assert ids(response) == [new.pk, old.pk]
    first = response.json()["results"][0]
    assert first["strategy"] == strategy.pk
    assert first["strategy_name"] == "twap-btc"
    assert first["quantity"] == "0.01"
    assert first["price"] == "65000"


def test_list_filters_combine(api):
    strategy = StrategyConfigFactory()
    match = OrderFactory(
        symbol="ETHUSDT",
        side="SELL",
        status=OrderStatus.OPEN,
        strategy=strategy,
        source="strategy",
        intent_key="a",
    )
    filled = OrderFactory(
        symbol="ETHUSDT",
        side="SELL",
        status=OrderStatus.FILLED,
        filled_quantity=Decimal("0.010"),
        strategy=strategy,
        source="strategy",
        intent_key="b",
    )
    OrderFactory(symbol="BTCUSDT", side="SELL", status=OrderStatus.OPEN)
    OrderFactory(symbol="ETHUSDT", side="BUY", status=OrderStatus.OPEN)

    assert ids(api.get("/api/orders?symbol=ETHUSDT&side=SELL&status=open")) == [match.pk]
    assert set(ids(api.get("/api/orders?symbol=ETHUSDT&status=open&status=filled&side=SELL"))) == {
        match.pk,
        filled.pk,
    }
    assert set(ids(api.get(f"/api/orders?strategy={strategy.pk}"))) == {match.pk, filled.pk}
    assert len(ids(api.get("/api/orders?source=api"))) == 2


def test_list_filters_by_created_time_range(api):
    now = timezone.now()
    orders = [OrderFactory() for _ in range(3)]
    for hours_ago, order in zip((3, 2, 1), orders, strict=True):
        Order.objects.filter(pk=order.pk).update(created_at=now - timedelta(hours=hours_ago))
    after = (now - timedelta(hours=2, minutes=30)).isoformat()
    before = (now - timedelta(hours=1, minutes=30)).isoformat()

    response = api.get("/api/orders", {"created_after": after, "created_before": before})

    assert ids(response) == [orders[1].pk]


def test_list_pages(api):
    OrderFactory.create_batch(7)
    first = api.get("/api/orders?page_size=5").json()
    assert first["count"] == 7
    assert len(first["results"]) == 5
    assert first["next"].endswith("page=2&page_size=5")
    second = api.get("/api/orders?page_size=5&page=2").json()
    assert len(second["results"]) == 2
    beyond = api.get("/api/orders?page=99")
    assert beyond.status_code == 404
    assert beyond.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=lost", "status"),
        ("side=HOLD", "side"),
        ("source=telepathy", "source"),
        ("strategy=abc", "strategy"),
        ("strategy=-1", "strategy"),
        (f"strategy={10**30}", "strategy"),
        ("created_after=yesterday", "created_after"),
        ("created_before=2024-13-45T99:00:00Z", "created_before"),
    ],
)
def test_list_refuses_bad_filter_values(api, query, field):
    response = api.get(f"/api/orders?{query}")
    assert response.status_code == 400
    assert field in error_fields(response)


def test_retrieve_has_attempts_in_order_and_fills(api):
    order = OrderFactory(status=OrderStatus.FILLED, filled_quantity=Decimal("0.010"))
    now = timezone.now()
    for number, outcome in ((2, "accepted"), (1, "unknown")):
        OrderAttempt.objects.create(
            order=order,
            number=number,
            action="submit" if number == 2 else "lookup",
            outcome=outcome,
            started_at=now,
            duration_ms=Decimal("12.5"),
        )
    FillFactory(order=order, trade_id="t-1")

    response = api.get(f"/api/orders/{order.pk}")

    assert response.status_code == 200
    body = response.json()
    assert [(a["number"], a["outcome"]) for a in body["attempts"]] == [
        (1, "unknown"),
        (2, "accepted"),
    ]
    assert body["attempts"][0]["duration_ms"] == "12.5"
    assert [f["trade_id"] for f in body["fills"]] == ["t-1"]


@pytest.mark.parametrize("order_id", ["424242", str(10**30)])
def test_unknown_order_is_404(api, order_id):
    response = api.get(f"/api/orders/{order_id}")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": f"order {order_id} does not exist"}


def test_cancel_unknown_order_is_404(api):
    assert api.post("/api/orders/424242/cancel").status_code == 404


# --- placing: input refused before any exchange call ----------------------------------

GOOD = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "order_type": "LIMIT",
    "quantity": "0.01",
    "price": "60000",
}


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"symbol": None}, "symbol", "required"),
        ({"side": None}, "side", "required"),
        ({"quantity": None}, "quantity", "required"),
        ({"side": "HOLD"}, "side", "not a valid choice"),
        ({"symbol": "btc-usdt"}, "symbol", "BTCUSDT"),
        ({"quantity": "0"}, "quantity", "greater than zero"),
        ({"quantity": "-0.5"}, "quantity", "greater than zero"),
        ({"quantity": "abc"}, "quantity", "valid number"),
        ({"quantity": [1]}, "quantity", "valid number"),
        ({"quantity": "NaN"}, "quantity", "valid number"),
        ({"quantity": "Infinity"}, "quantity", "valid number"),
        ({"quantity": 1e30}, "quantity", "digits"),
        ({"quantity": "123456789012345678901"}, "quantity", "18 digits before the decimal point"),
        ({"quantity": 10**100}, "quantity", "digits"),
        ({"quantity": "0.0000000000001"}, "quantity", "decimal places"),
        ({"price": "-1"}, "price", "greater than zero"),
        ({"price": None}, "price", "Required for LIMIT"),
        ({"order_type": "MARKET"}, "price", "MARKET order takes no price"),
        ({"order_type": "STOP"}, "order_type", "not a valid choice"),
        ({"reduce_only": True, "position_side": "LONG"}, "reduce_only", "one-way"),
        ({"reduce_only": "perhaps"}, "reduce_only", "true or false"),
        ({"reduce_only": 1}, "reduce_only", "true or false"),
        ({"side": 1}, "side", "not a valid choice"),
        ({"reason": 7}, "reason", "must be a string"),
        ({"leverage": 10}, "leverage", "Unknown field"),
    ],
)
def test_place_refuses_bad_input_before_any_exchange_call(api, change, field, says):
    body = {k: v for k, v in {**GOOD, **change}.items() if v is not None}

    response = api.post("/api/orders", body, format="json")

    assert response.status_code == 400
    fields = error_fields(response)
    assert field in fields, fields
    assert says.lower() in " ".join(fields[field]).lower()
    assert not Order.objects.exists()


def test_place_with_malformed_json_is_400(api):
    response = api.post(
        "/api/orders", data="{'symbol': 'BTCUSDT'}", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"


def test_place_with_a_json_array_body_is_400(api):
    response = api.post("/api/orders", [GOOD], format="json")
    assert response.status_code == 400
    assert "dictionary" in response.json()["message"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page=0", "page"),
        ("page=abc", "page"),
        ("page=", "page"),
        ("page=1&page=2", "page"),
        ("page_size=0", "page_size"),
        ("page_size=501", "page_size"),
        ("page_size=ten", "page_size"),
    ],
)
def test_bad_paging_is_400_not_a_silent_default(api, query, field):
    response = api.get(f"/api/orders?{query}")
    assert response.status_code == 400
    assert field in error_fields(response)
