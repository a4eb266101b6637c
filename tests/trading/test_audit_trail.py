"""The audit trail: every change a person or client makes is one append-only event with
who, when, from where, before and after — through the API (session, a user's token, the
desk's API_TOKEN), the dashboard, the admin and the command line."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import DatabaseError, transaction
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.conftest import user_with_roles
from tests.factories import StrategyConfigFactory
from trading.models import AuditEvent, Order
from trading.selectors import risk_limits_get

pytestmark = pytest.mark.django_db

API_TOKEN = "audit-desk-token-0123456789abcdef"


@pytest.fixture
def trader_api(user):
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def risk_token(settings):
    settings.API_TOKEN = API_TOKEN
    settings.API_TOKEN_ROLE = "risk"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {API_TOKEN}")
    return client


def test_a_manual_order_records_who_placed_it_on_the_order_and_in_the_trail(
    trader_api, user, registry_paper, client
):
    response = trader_api.post(
        "/api/orders",
        {"symbol": "BTCUSDT", "side": "BUY", "order_type": "MARKET", "quantity": "0.01"},
        format="json",
        REMOTE_ADDR="10.1.2.3",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["placed_by_name"] == "trader"
    order = Order.objects.get(pk=response.json()["id"])
    assert (order.placed_by, order.placed_by_name) == (user, "trader")

    [event] = AuditEvent.objects.all()
    assert (event.actor, event.actor_name, event.channel, event.ip) == (
        user,
        "trader",
        "session",
        "10.1.2.3",
    )
    assert event.action == "order.place"
    assert event.target == f"order {order.pk}"
    assert event.after["symbol"] == "BTCUSDT"
    assert Decimal(event.after["quantity"]) == Decimal("0.01")
    session_key = trader_api.cookies["sessionid"].value
    assert event.credential.startswith("session:")
    assert session_key not in event.credential

    client.force_login(user)
    assert (
        "Placed by</dt><dd data-order-placed-by>trader"
        in client.get(f"/orders/{order.pk}/").content.decode()
    )


def test_the_kill_switch_through_the_api_token_records_its_role_and_the_change(
    risk_token, registry_paper
):
    response = risk_token.post(
        "/api/risk/kill-switch", {"engage": True, "reason": "drill"}, format="json"
    )
    assert response.status_code == 200, response.json()
    released = risk_token.post("/api/risk/kill-switch", {"engage": False}, format="json")
    assert released.status_code == 200

    engage, release = AuditEvent.objects.order_by("id")
    assert (engage.action, engage.actor_name, engage.channel, engage.actor) == (
        "kill_switch.engage",
        "api-token",
        "api-token",
        None,
    )
    assert engage.credential == "role:risk"
    assert API_TOKEN not in engage.credential
    assert engage.before == {"engaged": False, "reason": ""}
    assert engage.after == {"engaged": True, "reason": "drill"}
    assert (release.action, release.before["engaged"], release.after["engaged"]) == (
        "kill_switch.release",
        True,
        False,
    )


def test_risk_limits_and_futures_settings_record_before_and_after(risk_token, registry_paper):
    old = risk_limits_get().max_order_notional
    response = risk_token.patch("/api/risk/limits", {"max_order_notional": "1234"}, format="json")
    assert response.status_code == 200, response.json()
    applied = risk_token.post(
        "/api/futures/settings", {"symbol": "BTCUSDT", "leverage": 5}, format="json"
    )
    assert applied.status_code == 200, applied.json()

    limits, futures = AuditEvent.objects.order_by("id")
    assert limits.action == "risk_limits.update"
    assert Decimal(limits.before["max_order_notional"]) == old
    assert Decimal(limits.after["max_order_notional"]) == Decimal("1234")
    assert futures.action == "futures_settings.apply"
    assert futures.before == {}
    assert futures.after["leverage"] == 5


def test_a_users_own_token_names_the_user_and_the_token_by_digest_only(user):
    token = Token.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = client.post(
        "/api/strategies",
        {"name": "audited", "kind": "twap", "symbol": "BTCUSDT", "params": TWAP},
        format="json",
    )
    assert response.status_code == 201, response.json()
    [event] = AuditEvent.objects.all()
    assert (event.actor, event.channel, event.action) == (user, "token", "strategy.create")
    assert event.credential.startswith("token:")
    assert token.key not in event.credential


TWAP = {"side": "BUY", "total_quantity": "1", "slices": 10, "interval_seconds": 60}


def test_a_strategys_life_is_four_events_with_its_values(trader_api):
    created = trader_api.post(
        "/api/strategies",
        {"name": "life", "kind": "twap", "symbol": "BTCUSDT", "params": TWAP},
        format="json",
    ).json()
    sid = created["id"]
    trader_api.patch(f"/api/strategies/{sid}", {"name": "life 2"}, format="json")
    trader_api.post(f"/api/strategies/{sid}/toggle", {"active": True}, format="json")
    trader_api.post(f"/api/strategies/{sid}/toggle", {"active": False}, format="json")
    assert trader_api.delete(f"/api/strategies/{sid}").status_code == 204

    events = list(AuditEvent.objects.order_by("id"))
    assert [e.action for e in events] == [
        "strategy.create",
        "strategy.update",
        "strategy.toggle",
        "strategy.toggle",
        "strategy.delete",
    ]
    assert {e.target for e in events} == {f"strategy {sid}"}
    assert (events[1].before["name"], events[1].after["name"]) == ("life", "life 2")
    assert events[2].before["is_active"] is False and events[2].after["is_active"] is True
    assert events[4].before["name"] == "life 2" and events[4].after == {}


def test_dashboard_buttons_are_audited_as_the_logged_in_person(client, user):
    strategy = StrategyConfigFactory(is_active=False)
    client.force_login(user)
    response = client.post(
        f"/strategies/{strategy.pk}/toggle/",
        {"active": "true"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200
    [event] = AuditEvent.objects.all()
    assert (event.actor, event.channel, event.action, event.after["is_active"]) == (
        user,
        "session",
        "strategy.toggle",
        True,
    )


def test_admin_changes_to_limits_and_roles_are_audited(client, admin_user):
    client.force_login(admin_user)
    limits = risk_limits_get()
    response = client.post(
        f"/admin/trading/risklimits/{limits.pk}/change/",
        {
            "max_order_notional": "777",
            "max_position_notional": str(limits.max_position_notional),
            "daily_loss_limit": str(limits.daily_loss_limit),
            "day_reset_hour_utc": str(limits.day_reset_hour_utc),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.get(action="risk_limits.update")
    assert (event.actor, event.channel) == (admin_user, "admin")
    assert Decimal(event.after["max_order_notional"]) == Decimal("777")

    person = user_with_roles("promoted", "viewer")
    from django.contrib.auth.models import Group

    trader_group = Group.objects.get(name="trader")
    response = client.post(
        f"/admin/auth/user/{person.pk}/change/",
        {
            "username": "promoted",
            "is_active": "on",
            "groups": [str(trader_group.pk)],
            "date_joined_0": "2025-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    event = AuditEvent.objects.get(action="user.update")
    assert event.target == f"user {person.pk}"
    assert (event.before["roles"], event.after["roles"]) == (["viewer"], ["trader"])


def test_a_password_set_in_the_admin_is_audited_without_the_password(client, admin_user):
    client.force_login(admin_user)
    person = user_with_roles("renewed", "viewer")
    response = client.post(
        f"/admin/auth/user/{person.pk}/password/",
        {"password1": "A-new-long-pass-4821", "password2": "A-new-long-pass-4821"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.get(action="user.password")
    assert (event.target, event.after) == (f"user {person.pk}", {"password": "changed"})
    assert "A-new-long-pass" not in str(event.after) + str(event.before)


def test_the_killswitch_command_is_audited_as_the_operator(registry_paper):
    call_command("killswitch", "engage", "--reason", "from the shell")
    [event] = AuditEvent.objects.all()
    assert event.action == "kill_switch.engage"
    assert event.channel == "command"
    assert event.actor_name.startswith("command:")


def test_the_trail_is_append_only_in_the_model_and_in_the_database(user):
    from trading.services.audit import Actor, audit_record

    event = audit_record(actor=Actor(name="x", channel="session"), action="test.action")
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="forged")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "test.action"


def test_the_audit_page_lists_and_filters_events_for_a_viewer(client, trader_api):
    trader_api.post(
        "/api/strategies",
        {"name": "seen", "kind": "twap", "symbol": "BTCUSDT", "params": TWAP},
        format="json",
    )
    trader_api.post("/api/strategies/999999/toggle", {}, format="json")  # 404: no event
    StrategyConfigFactory(name="other")
    client.force_login(user_with_roles("auditor", "viewer"))
    page = client.get("/audit/").content.decode()
    assert page.count("data-audit-id=") == 1
    assert "strategy.create" in page and "trader" in page
    assert (
        client.get("/audit/?action=strategy.toggle").content.decode().count("data-audit-id=") == 0
    )
    assert client.get("/audit/?actor=trad").content.decode().count("data-audit-id=") == 1
    assert client.get("/audit/?actor=nobody").content.decode().count("data-audit-id=") == 0


def test_the_audit_admin_is_read_only_even_for_a_superuser(client, admin_user, user):
    from trading.services.audit import Actor, audit_record

    event = audit_record(actor=Actor(name="x", channel="session"), action="test.action")
    client.force_login(admin_user)
    assert client.get("/admin/trading/auditevent/").status_code == 200
    assert client.get(f"/admin/trading/auditevent/{event.pk}/change/").status_code == 200
    assert client.get("/admin/trading/auditevent/add/").status_code == 403
    assert client.get(f"/admin/trading/auditevent/{event.pk}/delete/").status_code == 403
