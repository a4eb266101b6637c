"""Endpoints that reach the exchange, on the paper exchange: manual orders through the
order manager and risk guards, cancel, the kill switch, futures settings, health."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchanges.errors import ExchangeUnavailableError
from tests.api.conftest import error_fields
from tests.factories import OrderFactory
from trading.models import FuturesSettings, Order, OrderStatus, RiskLimits, TraderHeartbeat

pytestmark = pytest.mark.django_db


@pytest.fixture
def paper(registry_paper):
    return registry_paper


def place(api, **fields):
    body = {"symbol": "BTCUSDT", "side": "BUY", "quantity": "0.01", **fields}
    return api.post("/api/orders", body, format="json")


# --- placing --------------------------------------------------------------------------


def test_market_order_goes_through_the_order_manager_and_fills(api, paper):
    response = place(api, order_type="MARKET")

    assert response.status_code == 201, response.json()
    body = response.json()
    order = Order.objects.get(pk=body["id"])
    assert response["Location"] == f"/api/orders/{order.pk}"
    assert (order.status, order.source, order.exchange) == ("filled", "api", "paper")
    assert body["status"] == "filled"
    assert body["reason"] == "manual"
    assert Decimal(body["filled_quantity"]) == Decimal("0.01")
    assert Decimal(body["reference_price"]) > 0
    assert [(a["action"], a["outcome"]) for a in body["attempts"]] == [("submit", "accepted")]
    assert [Decimal(f["quantity"]) for f in body["fills"]] == [Decimal("0.01")]
    positions = api.get("/api/positions?symbol=BTCUSDT&open=true").json()["results"]
    assert [Decimal(p["quantity"]) for p in positions] == [Decimal("0.01")]


def test_limit_order_below_the_market_rests_open_and_can_be_cancelled(api, paper):
    mid = paper.market_snapshot("BTCUSDT").mid
    price = (mid * Decimal("0.5")).quantize(Decimal("0.1"))

    placed = place(api, order_type="LIMIT", price=str(price), time_in_force="GTC")

    assert placed.status_code == 201, placed.json()
    assert placed.json()["status"] == "open"
    assert placed.json()["time_in_force"] == "GTC"
    order_id = placed.json()["id"]

    cancelled = api.post(
        f"/api/orders/{order_id}/cancel", {"reason": "changed my mind"}, format="json"
    )

    assert cancelled.status_code == 200, cancelled.json()
    assert cancelled.json()["status"] == "canceled"
    assert [a["action"] for a in cancelled.json()["attempts"]] == ["submit", "cancel"]
    assert paper.fetch_open_orders("BTCUSDT") == []

    again = api.post(f"/api/orders/{order_id}/cancel")
    assert again.status_code == 409
    assert "already canceled" in again.json()["message"]


def test_cancel_an_order_being_submitted_is_409(api, paper):
    order = OrderFactory(status=OrderStatus.SUBMITTING)
    response = api.post(f"/api/orders/{order.pk}/cancel")
    assert response.status_code == 409
    assert "being submitted" in response.json()["message"]


def test_order_refused_by_a_risk_guard_is_created_rejected_with_the_reason(api, paper):
    api.patch("/api/risk/limits", {"max_order_notional": "100"}, format="json")

    response = place(api, order_type="MARKET")

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "rejected"
    assert body["error_code"] == "risk.max_order_notional"
    assert "above the maximum 100.00 per order" in body["error_message"]
    assert body["attempts"] == []  # nothing was sent
    assert paper.fetch_open_orders("BTCUSDT") == []


def test_order_below_the_exchange_minimum_is_rejected_before_sending(api, paper):
    response = place(api, order_type="MARKET", quantity="0.0001")

    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["error_code"]) == ("rejected", "local.min_qty")
    assert "below the minimum 0.001 for BTCUSDT" in body["error_message"]
    assert body["attempts"] == []


def test_kill_switch_refuses_orders_and_engaging_cancels_open_ones(api, paper):
    mid = paper.market_snapshot("BTCUSDT").mid
    resting = place(
        api, order_type="LIMIT", price=str((mid * Decimal("0.5")).quantize(Decimal("1")))
    )
    assert resting.json()["status"] == "open"

    engaged = api.post(
        "/api/risk/kill-switch", {"engage": True, "reason": "desk halt"}, format="json"
    )

    assert engaged.status_code == 200, engaged.json()
    assert engaged.json() | {"changed_at": None} == {
        "engaged": True,
        "reason": "desk halt",
        "changed_at": None,
        "canceled": 1,
        "failed": [],
    }
    assert Order.objects.get(pk=resting.json()["id"]).status == "canceled"
    assert RiskLimits.objects.get().kill_switch_engaged is True

    refused = place(api, order_type="MARKET")
    assert (refused.json()["status"], refused.json()["error_code"]) == (
        "rejected",
        "risk.kill_switch",
    )
    assert "desk halt" in refused.json()["error_message"]

    api.post("/api/risk/kill-switch", {"engage": False}, format="json")
    assert place(api, order_type="MARKET").json()["status"] == "filled"


def test_unknown_symbol_is_400_listing_the_known_ones_and_records_nothing(api, paper):
    response = place(api, symbol="NOPEUSDT", order_type="MARKET")
    assert response.status_code == 400
    assert response.json()["code"] == "exchange.unknown_symbol"
    assert response.json()["message"].startswith("NOPEUSDT is not traded on paper; known symbols:")
    assert "BTCUSDT" in response.json()["message"]
    assert not Order.objects.exists()


def test_exchange_unreachable_is_503_in_the_error_shape(api, paper, monkeypatch):
    def down(symbol):
        raise ExchangeUnavailableError("paper exchange unreachable (test)")

    monkeypatch.setattr(paper, "market_snapshot", down)

    response = place(api, order_type="MARKET")

    assert response.status_code == 503
    assert response.json() == {
        "code": "exchange.unavailable",
        "message": "paper exchange unreachable (test)",
    }
    assert not Order.objects.exists()


# --- futures settings -----------------------------------------------------------------


def test_futures_settings_are_applied_persisted_and_listed(api, paper):
    body = {"symbol": "BTCUSDT", "leverage": 5, "margin_mode": "isolated", "position_mode": "hedge"}

    first = api.post("/api/futures/settings", body, format="json")

    assert first.status_code == 200, first.json()
    result = first.json()
    assert (result["leverage"], result["margin_mode"], result["position_mode"]) == (
        5,
        "isolated",
        "hedge",
    )
    assert result["detail"]["leverage"] == {"value": "5", "changed": True}
    row = FuturesSettings.objects.get(exchange="paper", symbol="BTCUSDT")
    assert (row.leverage, row.margin_mode, row.hedge_mode) == (5, "isolated", True)

    again = api.post("/api/futures/settings", body, format="json").json()
    assert again["detail"]["leverage"]["changed"] is False

    only_leverage = api.post(
        "/api/futures/settings", {"symbol": "BTCUSDT", "leverage": 10}, format="json"
    ).json()
    assert (only_leverage["leverage"], only_leverage["margin_mode"]) == (10, "isolated")

    listed = api.get("/api/futures/settings").json()
    assert [(r["symbol"], r["leverage"]) for r in listed["results"]] == [("BTCUSDT", 10)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"symbol": "BTCUSDT"}, "non_field_errors"),
        ({"symbol": "BTCUSDT", "leverage": 0}, "leverage"),
        ({"symbol": "BTCUSDT", "leverage": 126}, "leverage"),
        ({"symbol": "BTCUSDT", "leverage": "5"}, "leverage"),
        ({"symbol": "BTCUSDT", "leverage": 10**100}, "leverage"),
        ({"symbol": "BTCUSDT", "margin_mode": "portfolio"}, "margin_mode"),
        ({"symbol": "BTCUSDT", "position_mode": "both"}, "position_mode"),
        ({"symbol": "BTCUSDT", "leverage": 5, "hedge": True}, "hedge"),
        ({"leverage": 5}, "symbol"),
    ],
)
def test_futures_settings_refuse_bad_input(api, paper, body, field):
    response = api.post("/api/futures/settings", body, format="json")
    assert response.status_code == 400
    assert field in error_fields(response)
    assert not FuturesSettings.objects.exists()


def test_futures_settings_for_an_unknown_symbol_is_400(api, paper):
    response = api.post(
        "/api/futures/settings", {"symbol": "NOPEUSDT", "leverage": 5}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "exchange.unknown_symbol"


# --- health ---------------------------------------------------------------------------


def test_health_is_200_when_everything_answers(paper, settings, client):
    from django.utils import timezone

    settings.PREDICTION_API_BASE_URL = ""
    for symbol in settings.TRADING_SYMBOLS:
        TraderHeartbeat.objects.create(symbol=symbol, last_tick_at=timezone.now(), last_tick_ms=1)

    response = client.get("/api/health")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["failing"]) == ("ok", [])
    exchange = body["checks"]["exchange"]
    assert exchange["status"] == "ok"
    assert exchange["detail"]["exchange"] == "paper"
    assert Decimal(exchange["detail"]["mid"]) > 0


def test_health_names_an_exchange_that_does_not_answer(paper, monkeypatch, client):
    def down(symbol):
        raise ExchangeUnavailableError("paper exchange unreachable (test)")

    monkeypatch.setattr(paper, "market_snapshot", down)

    response = client.get("/api/health")

    assert response.status_code == 503
    assert "exchange" in response.json()["failing"]
    assert response.json()["checks"]["exchange"]["message"] == (
        "the paper exchange does not answer: paper exchange unreachable (test)"
    )


# --- the real Binance connector, against the loopback emulator ------------------------


def test_futures_settings_reach_binance_through_the_connector(api, binance_emulator_settings):
    emulator = binance_emulator_settings

    response = api.post(
        "/api/futures/settings",
        {"symbol": "BTCUSDT", "leverage": 7, "margin_mode": "isolated"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert response.json()["exchange"] == "binance"
    leverage = emulator.received("POST", "/fapi/v1/leverage")
    assert [(r.params["symbol"], r.params["leverage"]) for r in leverage] == [("BTCUSDT", "7")]
    margin = emulator.received("POST", "/fapi/v1/marginType")
    assert [r.params["marginType"] for r in margin] == ["ISOLATED"]
    assert FuturesSettings.objects.get(exchange="binance", symbol="BTCUSDT").leverage == 7


def test_manual_order_reaches_binance_once_with_its_client_order_id(api, binance_emulator_settings):
    emulator = binance_emulator_settings

    response = place(api, order_type="MARKET", quantity="0.002")

    assert response.status_code == 201, response.json()
    order = Order.objects.get(pk=response.json()["id"])
    assert order.exchange == "binance"
    sent = emulator.orders_with_client_id(order.client_order_id)
    assert len(sent) == 1
    assert response.json()["status"] in ("open", "filled", "partially_filled")


def test_a_manual_order_whose_answer_is_lost_is_202_at_once_and_settled_later(
    api, binance_emulator_settings
):
    """The exchange takes the order and the answer is lost: the caller is not held for
    the lookups (202, status submitting, Location), and the order is never sent twice."""
    import time

    from exchanges.registry import get_exchange
    from trading.services.reconciliation import reconcile

    emulator = binance_emulator_settings
    emulator.set_book("BTCUSDT", "65000.0", "65000.1")
    emulator.drop("POST", "/fapi/v1/order", process=True)

    started = time.monotonic()
    response = place(api, order_type="MARKET", quantity="0.002")
    elapsed = time.monotonic() - started

    assert response.status_code == 202, response.json()
    assert elapsed < 3.0
    body = response.json()
    assert body["status"] == "submitting"
    assert response["Location"] == f"/api/orders/{body['id']}"
    order = Order.objects.get(pk=body["id"])
    assert order.claimed_by == ""  # nobody is sending it now: the next pass may settle it

    reconcile(exchange=get_exchange(), symbols=["BTCUSDT"])
    assert api.get(response["Location"]).json()["status"] == "filled"
    assert len(emulator.orders_with_client_id(order.client_order_id)) == 1
    assert len(emulator.received("POST", "/fapi/v1/order")) == 1
