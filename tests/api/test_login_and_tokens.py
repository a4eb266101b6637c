"""Guessing is slow: logins lock out after AXES_FAILURE_LIMIT failures (site and admin),
failed token attempts are throttled per address, and the money endpoints have a rate of
their own."""

from __future__ import annotations

import pytest
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from tests.conftest import user_with_roles
from trading.models import StrategyConfig

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(monkeypatch):
    """DRF's throttles hold the rates dict read at import: patch that dict."""

    def set_rates(**overrides: str) -> None:
        for scope, rate in overrides.items():
            monkeypatch.setitem(api_settings.DEFAULT_THROTTLE_RATES, scope, rate)

    return set_rates


@pytest.mark.parametrize(
    ("login_url", "staff"), [("/accounts/login/", False), ("/admin/login/", True)]
)
def test_repeated_failed_logins_lock_the_account_out_even_for_the_right_password(
    client, settings, login_url, staff
):
    settings.AXES_FAILURE_LIMIT = 3
    user_with_roles("guessed", "trader", is_staff=staff)
    for _ in range(3):
        failed = client.post(login_url, {"username": "guessed", "password": "wrong"})
        assert failed.status_code in (200, 429)  # the form again, with its error
        assert "_auth_user_id" not in client.session
    locked = client.post(login_url, {"username": "guessed", "password": "guessed-pass-123"})
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_successful_login_before_the_limit_resets_the_count(client, settings):
    settings.AXES_FAILURE_LIMIT = 3
    user_with_roles("forgetful", "viewer")
    for _ in range(2):
        client.post("/accounts/login/", {"username": "forgetful", "password": "wrong"})
    ok = client.post(
        "/accounts/login/", {"username": "forgetful", "password": "forgetful-pass-123"}
    )
    assert ok.status_code == 302
    client.logout()
    for _ in range(2):
        client.post("/accounts/login/", {"username": "forgetful", "password": "wrong"})
    again = client.post(
        "/accounts/login/", {"username": "forgetful", "password": "forgetful-pass-123"}
    )
    assert again.status_code == 302


def test_failed_token_attempts_are_throttled_per_address(api_token, rates):
    rates(token_failures="3/minute")
    guesser = APIClient(REMOTE_ADDR="10.9.9.9")
    for n in range(3):
        guesser.credentials(HTTP_AUTHORIZATION=f"Bearer wrong-guess-{n}")
        assert guesser.get("/api/orders").status_code == 401
    guesser.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token}")
    refused = guesser.get("/api/orders")
    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"
    assert int(refused["Retry-After"]) > 0
    guesser.credentials(HTTP_AUTHORIZATION="Token also-wrong")
    assert guesser.get("/api/orders").status_code == 429

    elsewhere = APIClient(REMOTE_ADDR="10.1.1.1")
    elsewhere.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token}")
    assert elsewhere.get("/api/orders").status_code == 200


def test_money_endpoints_have_their_own_lower_rate_and_reads_are_not_counted(api, rates):
    rates(money="2/minute")
    body = {"name": "s", "kind": "twap", "symbol": "BTCUSDT", "params": {}}
    codes = [api.post("/api/strategies", body, format="json").status_code for _ in range(3)]
    assert codes[:2] == [400, 400] and codes[2] == 429, codes
    assert api.post("/api/risk/kill-switch", {"engage": False}, format="json").status_code == 429
    assert api.get("/api/strategies").status_code == 200
    assert api.get("/api/orders").status_code == 200
    assert not StrategyConfig.objects.exists()
