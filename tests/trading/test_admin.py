"""The operator's admin: create, edit and toggle strategies; read-only trading record."""

from __future__ import annotations

import json
import re

import pytest

from tests.factories import FillFactory, OrderFactory, StrategyConfigFactory
from trading.models import StrategyConfig

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/trading/strategyconfig/add/"
LIST_URL = "/admin/trading/strategyconfig/"

TWAP = {"side": "BUY", "total_quantity": "0.5", "slices": 10, "interval_seconds": 60}


def post_strategy(client, params, **fields):
    data = {"name": "twap-1", "kind": "twap", "symbol": "btcusdt", "params": json.dumps(params)}
    data.update(fields)
    return client.post(ADD_URL, data)


def test_admin_creates_a_strategy_with_normalised_params(staff_client):
    response = post_strategy(staff_client, TWAP, is_active="on")
    assert response.status_code == 302
    strategy = StrategyConfig.objects.get(name="twap-1")
    assert strategy.symbol == "BTCUSDT"
    assert strategy.is_active
    # Defaults filled in, decimals stored as strings (never floats).
    assert strategy.params == {
        **TWAP,
        "order_type": "MARKET",
        "limit_offset_bps": "0",
        "position_side": "BOTH",
        "reduce_only": False,
    }


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({**TWAP, "slices": 0}, "slices: Ensure this value is greater than or equal to 1."),
        (
            {**TWAP, "total_quantity": "-1"},
            "total_quantity: Ensure this value is greater than or equal to",
        ),
        ({**TWAP, "slics": 5}, "slics: Unknown parameter. Allowed:"),
        ({"side": "BUY"}, "total_quantity: This field is required."),
        ({**TWAP, "side": "HOLD"}, "side: &quot;HOLD&quot; is not a valid choice."),
    ],
)
def test_admin_shows_a_form_error_for_invalid_params(staff_client, params, message):
    response = post_strategy(staff_client, params)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not StrategyConfig.objects.exists()


def test_admin_rejects_params_that_are_not_json(staff_client):
    response = staff_client.post(
        ADD_URL, {"name": "x", "kind": "twap", "symbol": "BTCUSDT", "params": "{side: BUY"}
    )
    assert response.status_code == 200
    assert "Enter a valid JSON" in response.content.decode()


def test_admin_validates_cross_field_rules_per_kind(staff_client):
    params = {"side": "SELL", "total_quantity": "1", "visible_quantity": "2"}
    response = post_strategy(staff_client, params, kind="iceberg")
    assert (
        "visible_quantity: visible_quantity 2 exceeds total_quantity 1."
        in response.content.decode()
    )


def test_toggle_button_on_the_list_page_switches_a_strategy_off_and_on(staff_client):
    strategy = StrategyConfigFactory(is_active=True)
    page = staff_client.get(LIST_URL).content.decode()
    toggle_url = f"/admin/trading/strategyconfig/{strategy.pk}/toggle/"
    assert re.search(rf'formaction="{toggle_url}"[^>]*>Turn off<', page)

    staff_client.post(toggle_url)
    strategy.refresh_from_db()
    assert strategy.is_active is False
    assert "Turn on" in staff_client.get(LIST_URL).content.decode()

    staff_client.post(toggle_url)
    strategy.refresh_from_db()
    assert strategy.is_active is True


def test_toggle_requires_post(staff_client):
    strategy = StrategyConfigFactory(is_active=True)
    staff_client.get(f"/admin/trading/strategyconfig/{strategy.pk}/toggle/")
    strategy.refresh_from_db()
    assert strategy.is_active is True


def test_bulk_actions_turn_strategies_on_and_off(staff_client):
    strategies = StrategyConfigFactory.create_batch(3, is_active=False)
    ids = [str(s.pk) for s in strategies[:2]]
    staff_client.post(LIST_URL, {"action": "activate", "_selected_action": ids})
    assert sorted(
        StrategyConfig.objects.filter(is_active=True).values_list("pk", flat=True)
    ) == sorted(s.pk for s in strategies[:2])
    staff_client.post(LIST_URL, {"action": "deactivate", "_selected_action": ids})
    assert not StrategyConfig.objects.filter(is_active=True).exists()


def test_editing_keeps_the_kind_fixed(staff_client):
    strategy = StrategyConfigFactory()
    page = staff_client.get(f"/admin/trading/strategyconfig/{strategy.pk}/change/").content.decode()
    assert 'name="kind"' not in page


@pytest.mark.parametrize("model", ["order", "fill", "position"])
def test_trading_record_is_read_only(staff_client, model):
    FillFactory()
    assert staff_client.get(f"/admin/trading/{model}/add/").status_code == 403
    listing = staff_client.get(f"/admin/trading/{model}/")
    assert listing.status_code == 200


def test_order_list_filters_and_searches(staff_client):
    OrderFactory(client_order_id="xq-find-me", symbol="ETHUSDT", status="rejected")
    OrderFactory(client_order_id="xq-other", symbol="BTCUSDT")
    page = staff_client.get("/admin/trading/order/", {"q": "find-me"}).content.decode()
    assert "xq-find-me" in page and "xq-other" not in page
    page = staff_client.get("/admin/trading/order/", {"status__exact": "rejected"}).content.decode()
    assert "xq-find-me" in page and "xq-other" not in page


def test_risk_limits_list_opens_the_single_row(staff_client):
    response = staff_client.get("/admin/trading/risklimits/", follow=True)
    assert response.status_code == 200
    assert "Max order notional" in response.content.decode()


def test_admin_shows_amounts_without_twelve_decimal_padding(staff_client):
    from decimal import Decimal

    from trading.selectors import risk_limits_get

    order = OrderFactory(quantity=Decimal("0.01"), price=Decimal("65000.5"))
    listing = staff_client.get("/admin/trading/order/").content.decode()
    assert ">0.01<" in listing and ">65000.5<" in listing
    assert "0.010000000000" not in listing
    detail = staff_client.get(f"/admin/trading/order/{order.pk}/change/").content.decode()
    assert "0.010000000000" not in detail and "65000.500000000000" not in detail
    assert "0.01" in detail

    limits = risk_limits_get()
    form = staff_client.get(f"/admin/trading/risklimits/{limits.pk}/change/").content.decode()
    assert re.search(r'name="max_order_notional" value="\d+(\.\d{1,2})?"', form), form
    assert ".000000000000" not in form


def test_admin_shows_an_engaged_kill_switch_as_an_alarm_not_a_green_tick(staff_client):
    from trading.selectors import risk_limits_get
    from trading.services.risk import kill_switch_release

    limits = risk_limits_get()
    limits.kill_switch_engaged = True
    limits.save()
    page = staff_client.get(f"/admin/trading/risklimits/{limits.pk}/change/").content.decode()
    assert "ENGAGED" in page and "icon-yes.svg" not in page
    kill_switch_release(reason="done")
    page = staff_client.get(f"/admin/trading/risklimits/{limits.pk}/change/").content.decode()
    assert "ENGAGED" not in page and "icon-no.svg" not in page
