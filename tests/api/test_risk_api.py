"""Risk limits and the kill switch through the API (without asking the exchange;
engaging with open orders: test_orders_trading_api.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from tests.api.conftest import error_fields
from trading.models import RealizedPnlHour, RiskLimits

pytestmark = pytest.mark.django_db


def test_get_limits_creates_them_from_settings_and_shows_todays_loss(api, settings):
    settings.RISK_MAX_ORDER_NOTIONAL = Decimal("1234.5")
    # Recording fills keeps realised PnL per hour (trading.services.fills); a losing
    # close of 40 USDT with a 2 USDT fee, this hour:
    RealizedPnlHour.objects.create(
        exchange="paper",
        hour=timezone.now().replace(minute=0, second=0, microsecond=0),
        realized_net=Decimal("-42"),
    )

    response = api.get("/api/risk/limits")

    assert response.status_code == 200
    body = response.json()
    assert body["max_order_notional"] == "1234.5"
    assert body["kill_switch_engaged"] is False
    assert body["loss_today"] == "42"


def test_patch_changes_only_the_given_limits(api):
    api.get("/api/risk/limits")
    before = RiskLimits.objects.get()

    response = api.patch(
        "/api/risk/limits",
        {"max_order_notional": "2500", "day_reset_hour_utc": 8},
        format="json",
    )

    assert response.status_code == 200, response.json()
    limits = RiskLimits.objects.get()
    assert limits.max_order_notional == Decimal("2500")
    assert limits.day_reset_hour_utc == 8
    assert limits.daily_loss_limit == before.daily_loss_limit
    assert response.json()["max_order_notional"] == "2500"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"max_order_notional": "0"}, "max_order_notional"),
        ({"max_position_notional": "-100"}, "max_position_notional"),
        ({"daily_loss_limit": "lots"}, "daily_loss_limit"),
        ({"daily_loss_limit": 1e30}, "daily_loss_limit"),
        ({"max_order_notional": 10**100}, "max_order_notional"),
        ({"day_reset_hour_utc": 24}, "day_reset_hour_utc"),
        ({"day_reset_hour_utc": 2.5}, "day_reset_hour_utc"),
        ({"kill_switch_engaged": True}, "kill_switch_engaged"),
    ],
)
def test_patch_refuses_bad_limits_and_changes_nothing(api, body, field):
    api.get("/api/risk/limits")
    before = RiskLimits.objects.values().get()

    response = api.patch("/api/risk/limits", body, format="json")

    assert response.status_code == 400
    assert field in error_fields(response)
    assert RiskLimits.objects.values().get() == before


def test_patch_with_nothing_points_to_the_kill_switch_endpoint(api):
    response = api.patch("/api/risk/limits", {}, format="json")
    assert response.status_code == 400
    assert "/api/risk/kill-switch" in response.json()["message"]


def test_release_the_kill_switch(api):
    RiskLimits.objects.create(
        max_order_notional=1,
        max_position_notional=1,
        daily_loss_limit=1,
        kill_switch_engaged=True,
        kill_switch_reason="test",
    )
    response = api.post(
        "/api/risk/kill-switch", {"engage": False, "reason": "all clear"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["engaged"] is False
    assert response.json()["reason"] == "all clear"
    assert RiskLimits.objects.get().kill_switch_engaged is False


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"engage": "yes please"},
        {"engage": True, "reason": "x" * 201},
        {"engage": True, "why": ""},
    ],
)
def test_kill_switch_refuses_bad_input(api, body):
    response = api.post("/api/risk/kill-switch", body, format="json")
    assert response.status_code == 400
    assert not RiskLimits.objects.filter(kill_switch_engaged=True).exists()
