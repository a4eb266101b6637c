"""A strategy can only be switched on for a symbol the trading loop ticks
(TRADING_SYMBOLS): everywhere one is switched on, the refusal says what is ticked and
how to change it. An inactive strategy may be prepared on any symbol."""

from __future__ import annotations

import re

import pytest

from tests.factories import StrategyConfigFactory
from trading.models import StrategyConfig
from trading.services.strategies import (
    strategy_config_create,
    strategy_config_set_active,
    strategy_config_update,
)
from xquant.errors import ValidationError

pytestmark = pytest.mark.django_db

TWAP = {"side": "BUY", "total_quantity": "0.010", "slices": 5, "interval_seconds": 60}
SAYS = "SOLUSDT is not traded: the trading loop ticks BTCUSDT, ETHUSDT (TRADING_SYMBOLS)"


@pytest.fixture(autouse=True)
def _traded(settings):
    settings.TRADING_SYMBOLS = ["BTCUSDT", "ETHUSDT"]


def test_creating_an_active_strategy_on_an_untraded_symbol_is_refused():
    with pytest.raises(ValidationError) as refused:
        strategy_config_create(
            name="sol", kind="twap", symbol="solusdt", params=TWAP, is_active=True
        )
    assert SAYS in refused.value.message
    assert refused.value.extra["fields"]["symbol"] == [
        "Not traded. Traded symbols: BTCUSDT, ETHUSDT."
    ]
    assert not StrategyConfig.objects.exists()


def test_an_inactive_strategy_may_wait_on_any_symbol_but_not_be_switched_on(settings):
    strategy = strategy_config_create(name="sol", kind="twap", symbol="SOLUSDT", params=TWAP)
    with pytest.raises(ValidationError, match=re.escape(SAYS)):
        strategy_config_set_active(strategy=strategy, active=True)
    strategy.refresh_from_db()
    assert strategy.is_active is False

    settings.TRADING_SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert strategy_config_set_active(strategy=strategy, active=True).is_active is True


def test_moving_an_active_strategy_to_an_untraded_symbol_is_refused():
    strategy = strategy_config_create(
        name="btc", kind="twap", symbol="BTCUSDT", params=TWAP, is_active=True
    )
    with pytest.raises(ValidationError, match=re.escape(SAYS)):
        strategy_config_update(strategy=strategy, symbol="SOLUSDT")
    strategy.refresh_from_db()
    assert strategy.symbol == "BTCUSDT"


def test_the_api_refuses_an_active_ta_strategy_on_an_untraded_symbol(admin_user):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(admin_user)
    response = api.post(
        "/api/strategies/ta",
        {"symbol": "SOLUSDT", "strategy_type": "rsi", "params": {"quantity": "1"}},
        format="json",
    )
    assert response.status_code == 400
    assert SAYS in response.json()["message"]
    assert not StrategyConfig.objects.exists()


def test_the_dashboard_switch_says_why_it_stays_off(client, user):
    client.force_login(user)
    strategy = StrategyConfigFactory(symbol="SOLUSDT", is_active=False)
    response = client.post(
        f"/strategies/{strategy.pk}/toggle/",
        {"active": "true"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert SAYS in response.json()["error"]


def test_the_admin_refuses_an_active_strategy_on_an_untraded_symbol(staff_client):
    import json

    response = staff_client.post(
        "/admin/trading/strategyconfig/add/",
        {
            "name": "sol",
            "kind": "twap",
            "symbol": "SOLUSDT",
            "params": json.dumps(TWAP),
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert "SOLUSDT is not traded" in response.content.decode()
    assert not StrategyConfig.objects.exists()

    off = StrategyConfigFactory(name="sol-off", symbol="SOLUSDT", is_active=False)
    response = staff_client.post(
        "/admin/trading/strategyconfig/",
        {"action": "activate", "_selected_action": [off.pk]},
        follow=True,
    )
    texts = [str(m) for m in response.context["messages"]]
    assert any(t.startswith("sol-off stays off: SOLUSDT is not traded") for t in texts), texts
    off.refresh_from_db()
    assert off.is_active is False


def test_an_active_strategy_left_on_an_untraded_symbol_is_shown_as_not_traded(client, user):
    client.force_login(user)
    strategy = StrategyConfigFactory(symbol="SOLUSDT", is_active=True)
    overview = client.get("/").content.decode()
    assert 'data-strategy-status="not-traded"' in overview
    page = client.get(f"/strategies/{strategy.pk}/").content.decode()
    assert "data-not-traded" in page and "BTCUSDT, ETHUSDT" in page
