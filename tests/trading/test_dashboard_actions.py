"""The dashboard's buttons: POST with CSRF, through the same services as every other
entry point, which persist the change and publish the event the pages update from."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import StrategyConfigFactory
from trading.models import RiskLimits, StrategyStatus
from trading.selectors import risk_limits_get

pytestmark = pytest.mark.django_db


@pytest.fixture
def trader(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def risk_manager(client, risk_user):
    client.force_login(risk_user)
    return client


def test_switching_a_strategy_off_persists_it_and_publishes_the_toggle(
    trader, dashboard_events, django_capture_on_commit_callbacks
):
    strategy = StrategyConfigFactory(is_active=True)
    with django_capture_on_commit_callbacks(execute=True):
        response = trader.post(
            f"/strategies/{strategy.pk}/toggle/", {"active": "false", "next": "/"}
        )
    assert response.status_code == 302
    assert response.url == "/"
    strategy.refresh_from_db()
    assert strategy.is_active is False
    toggled = dashboard_events.of_type("strategy.toggled")
    assert toggled == [
        {
            "id": strategy.pk,
            "name": strategy.name,
            "kind": "twap",
            "symbol": "BTCUSDT",
            "is_active": False,
            "status": "ok",
        }
    ]


def test_switching_an_errored_strategy_on_from_the_page_clears_its_error(trader):
    strategy = StrategyConfigFactory(
        is_active=False, status=StrategyStatus.ERRORED, last_error="boom"
    )
    response = trader.post(
        f"/strategies/{strategy.pk}/toggle/",
        {"active": "true"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200
    assert response.json() == {
        "message": f"{strategy.name} is on.",
        "id": strategy.pk,
        "is_active": True,
        "status": "ok",
    }
    strategy.refresh_from_db()
    assert (strategy.is_active, strategy.status, strategy.last_error) == (True, "ok", "")


def test_toggle_refuses_get_anonymous_users_and_posts_without_csrf(client, user):
    strategy = StrategyConfigFactory(is_active=True)
    url = f"/strategies/{strategy.pk}/toggle/"
    assert client.post(url, {"active": "false"}).url.startswith("/accounts/login/")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post(url, {"active": "false"}).status_code == 403
    client.force_login(user)
    assert client.get(url).status_code == 405
    strategy.refresh_from_db()
    assert strategy.is_active is True


def test_toggle_with_a_bad_value_changes_nothing_and_says_why(trader):
    strategy = StrategyConfigFactory(is_active=True)
    response = trader.post(
        f"/strategies/{strategy.pk}/toggle/",
        {"active": "maybe"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert "maybe" in response.json()["error"]
    strategy.refresh_from_db()
    assert strategy.is_active is True


def test_toggle_never_redirects_off_site(trader):
    strategy = StrategyConfigFactory(is_active=True)
    response = trader.post(
        f"/strategies/{strategy.pk}/toggle/",
        {"active": "false", "next": "https://evil.example.com/"},
    )
    assert response.url == f"/strategies/{strategy.pk}/"


def test_releasing_the_kill_switch_needs_a_reason_and_publishes_it(risk_manager, dashboard_events):
    trader = risk_manager
    limits = risk_limits_get()
    RiskLimits.objects.filter(pk=limits.pk).update(
        kill_switch_engaged=True, kill_switch_reason="incident"
    )
    refused = trader.post(
        "/risk/kill-switch/",
        {"action": "release", "reason": " "},
        headers={"Accept": "application/json"},
    )
    assert refused.status_code == 400
    assert "Say why" in refused.json()["error"]
    assert risk_limits_get().kill_switch_engaged is True

    response = trader.post(
        "/risk/kill-switch/",
        {"action": "release", "reason": "exchange is back"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200
    assert response.json()["engaged"] is False
    limits = risk_limits_get()
    assert limits.kill_switch_engaged is False
    assert limits.kill_switch_reason == "exchange is back (risker)"
    events = dashboard_events.of_type("risk.kill_switch")
    assert [e["kill_switch_engaged"] for e in events] == [False]


def test_kill_switch_refuses_anonymous_users(client):
    response = client.post("/risk/kill-switch/", {"action": "release", "reason": "x"})
    assert response.url.startswith("/accounts/login/")


def test_engaging_the_kill_switch_cancels_open_orders_on_the_exchange(
    risk_manager, dashboard_events, registry_paper
):
    """Through the view, the registry's exchange (paper) and the risk service: a resting
    limit order far below the market is cancelled, and every page hears of it."""
    from decimal import Decimal

    from trading.services.orders import order_place
    from trading.strategies.base import OrderIntent

    exchange = registry_paper
    bid = exchange.market_snapshot("BTCUSDT").bid
    resting = order_place(
        intent=OrderIntent(
            key="",
            symbol="BTCUSDT",
            side="BUY",
            quantity=Decimal("0.002"),
            order_type="LIMIT",
            price=(bid * Decimal("0.8")).quantize(Decimal("0.1")),
            time_in_force="GTC",
        ),
        exchange=exchange,
        source="api",
    )
    assert resting.status == "open"

    response = risk_manager.post(
        "/risk/kill-switch/",
        {"action": "engage", "reason": "runaway strategy"},
        headers={"Accept": "application/json"},
    )

    assert response.status_code == 200
    assert response.json() == {
        "message": "Kill switch engaged: 1 open order(s) cancelled.",
        "engaged": True,
        "canceled": 1,
    }
    limits = risk_limits_get()
    assert (limits.kill_switch_engaged, limits.kill_switch_reason) == (
        True,
        "runaway strategy (risker)",
    )
    resting.refresh_from_db()
    assert resting.status == "canceled"
    [event] = dashboard_events.of_type("risk.kill_switch")
    assert (event["kill_switch_engaged"], event["canceled"]) == (True, 1)


def test_cancelling_an_open_order_from_its_page_cancels_it_and_shows_it_as_a_note(
    trader, registry_paper
):
    from decimal import Decimal

    from trading.services.orders import order_place
    from trading.strategies.base import OrderIntent

    exchange = registry_paper
    bid = exchange.market_snapshot("BTCUSDT").bid
    resting = order_place(
        intent=OrderIntent(
            key="",
            symbol="BTCUSDT",
            side="BUY",
            quantity=Decimal("0.002"),
            order_type="LIMIT",
            price=(bid * Decimal("0.8")).quantize(Decimal("0.1")),
            time_in_force="GTC",
        ),
        exchange=exchange,
        source="api",
    )
    page = trader.get(f"/orders/{resting.pk}/").content.decode()
    assert f'action="/orders/{resting.pk}/cancel/"' in page

    response = trader.post(f"/orders/{resting.pk}/cancel/", {"next": f"/orders/{resting.pk}/"})
    assert response.status_code == 302
    resting.refresh_from_db()
    assert resting.status == "canceled"
    assert resting.error_message == "cancelled from the dashboard by trader"
    # A cancel on purpose is a note on the order, not a red error.
    page = trader.get(f"/orders/{resting.pk}/").content.decode()
    assert "data-order-error" not in page
    assert "<b>Cancelled:</b> cancelled from the dashboard by trader" in page
    listing = trader.get("/orders/").content.decode()
    assert '<span class="neg">' not in listing
    # Twice: nothing left to cancel, and the page says so.
    again = trader.post(f"/orders/{resting.pk}/cancel/", headers={"Accept": "application/json"})
    assert again.status_code == 409
    assert "already canceled" in again.json()["error"]


def test_a_rejected_order_still_shows_its_error_in_red(trader):
    from tests.factories import OrderFactory

    rejected = OrderFactory(
        status="rejected", error_code="risk.max_order_notional", error_message="too big"
    )
    page = trader.get(f"/orders/{rejected.pk}/").content.decode()
    assert "data-order-error" in page and "risk.max_order_notional" in page
    assert (
        '<span class="neg">risk.max_order_notional too big</span>'
        in trader.get("/orders/").content.decode()
    )


def test_a_trader_may_not_engage_the_kill_switch_from_the_dashboard(trader):
    response = trader.post(
        "/risk/kill-switch/",
        {"action": "engage", "reason": "not mine to pull"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 403
    assert "trading.operate_kill_switch" in response.json()["error"]
    assert risk_limits_get().kill_switch_engaged is False
