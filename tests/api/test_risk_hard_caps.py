"""Hard caps from the environment (RISK_HARD_MAX_*): no change through the API or the
admin can raise a limit above them, and the guards never use a limit above its cap."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.api.conftest import error_fields
from trading.models import FuturesSettings, Order, RiskLimits
from trading.selectors import risk_limits_get

pytestmark = pytest.mark.django_db


@pytest.fixture
def caps(settings):
    settings.RISK_HARD_MAX_ORDER_NOTIONAL = Decimal("20000")
    settings.RISK_HARD_MAX_POSITION_NOTIONAL = Decimal("60000")
    settings.RISK_HARD_MAX_DAILY_LOSS = Decimal("3000")
    settings.RISK_HARD_MAX_LEVERAGE = 10
    return settings


@pytest.mark.parametrize(
    ("field", "cap", "setting"),
    [
        ("max_order_notional", "20000", "RISK_HARD_MAX_ORDER_NOTIONAL"),
        ("max_position_notional", "60000", "RISK_HARD_MAX_POSITION_NOTIONAL"),
        ("daily_loss_limit", "3000", "RISK_HARD_MAX_DAILY_LOSS"),
    ],
)
def test_a_limit_above_its_hard_cap_is_a_400_naming_the_cap(api, caps, field, cap, setting):
    before = getattr(risk_limits_get(), field)
    response = api.patch("/api/risk/limits", {field: "990000000000000000"}, format="json")
    assert response.status_code == 400, response.json()
    [message] = error_fields(response)[field]
    assert f"hard cap of {cap} USDT ({setting})" in message
    assert getattr(RiskLimits.objects.get(), field) == before

    at_cap = api.patch("/api/risk/limits", {field: cap}, format="json")
    assert at_cap.status_code == 200, at_cap.json()
    assert getattr(RiskLimits.objects.get(), field) == Decimal(cap)


def test_the_guard_uses_the_cap_when_the_stored_limit_is_higher(api, caps, registry_paper):
    # A limit stored before the cap was lowered in the environment.
    limits = risk_limits_get()
    RiskLimits.objects.filter(pk=limits.pk).update(max_order_notional=Decimal("900000"))
    caps.RISK_HARD_MAX_ORDER_NOTIONAL = Decimal("500")
    response = api.post(
        "/api/orders",
        {"symbol": "BTCUSDT", "side": "BUY", "order_type": "MARKET", "quantity": "0.01"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    order = Order.objects.get(pk=response.json()["id"])
    assert (order.status, order.error_code) == ("rejected", "risk.max_order_notional")
    assert "500" in order.error_message


def test_leverage_above_the_hard_cap_is_a_400_and_reaches_no_exchange(api, caps, registry_paper):
    response = api.post(
        "/api/futures/settings", {"symbol": "BTCUSDT", "leverage": 11}, format="json"
    )
    assert response.status_code == 400, response.json()
    assert "RISK_HARD_MAX_LEVERAGE" in error_fields(response)["leverage"][0]
    assert not FuturesSettings.objects.exists()
    allowed = api.post(
        "/api/futures/settings", {"symbol": "BTCUSDT", "leverage": 10}, format="json"
    )
    assert allowed.status_code == 200, allowed.json()


def test_the_admin_refuses_a_limit_above_its_cap_with_a_form_error(caps, client, admin_user):
    client.force_login(admin_user)
    limits = risk_limits_get()
    response = client.post(
        f"/admin/trading/risklimits/{limits.pk}/change/",
        {
            "max_order_notional": "20000.01",
            "max_position_notional": str(limits.max_position_notional),
            "daily_loss_limit": str(limits.daily_loss_limit),
            "day_reset_hour_utc": str(limits.day_reset_hour_utc),
        },
    )
    assert response.status_code == 200  # the form again, with the error
    assert "above the hard cap of 20000 USDT" in response.content.decode()
    assert RiskLimits.objects.get().max_order_notional == limits.max_order_notional
