"""Sessions need CSRF for writes, CORS answers only listed origins, throttling engages
and is configured from the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import StrategyConfigFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


# --- session + CSRF -------------------------------------------------------------------


def test_session_write_without_csrf_token_is_refused(user):
    strategy = StrategyConfigFactory(is_active=True)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)

    response = client.post(
        f"/api/strategies/{strategy.pk}/toggle", {"active": False}, format="json"
    )

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert "CSRF" in response.json()["message"]
    strategy.refresh_from_db()
    assert strategy.is_active is True


def test_session_write_with_csrf_token_is_accepted_and_reads_need_none(user):
    strategy = StrategyConfigFactory(is_active=True)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get("/api/strategies").status_code == 200
    client.get("/accounts/login/")  # sets the csrftoken cookie, as the dashboard page does
    token = client.cookies["csrftoken"].value

    response = client.post(
        f"/api/strategies/{strategy.pk}/toggle",
        {"active": False},
        format="json",
        HTTP_X_CSRFTOKEN=token,
    )

    assert response.status_code == 200
    strategy.refresh_from_db()
    assert strategy.is_active is False


def test_token_clients_need_no_csrf(user):
    strategy = StrategyConfigFactory(is_active=True)
    token = Token.objects.create(user=user)
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = client.post(
        f"/api/strategies/{strategy.pk}/toggle", {"active": False}, format="json"
    )
    assert response.status_code == 200


# --- CORS -----------------------------------------------------------------------------

LISTED = "https://desk.example.com"


@pytest.fixture
def cors(settings):
    settings.CORS_ALLOWED_ORIGINS = [LISTED]


def preflight(origin: str):
    return APIClient().options(
        "/api/orders",
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )


def test_listed_origin_gets_cors_headers(cors, api):
    response = preflight(LISTED)
    assert response["Access-Control-Allow-Origin"] == LISTED
    assert "authorization" in response["Access-Control-Allow-Headers"]
    assert "POST" in response["Access-Control-Allow-Methods"]
    actual = api.get("/api/orders", HTTP_ORIGIN=LISTED)
    assert actual["Access-Control-Allow-Origin"] == LISTED


def test_unlisted_origin_gets_no_cors_headers(cors, api):
    response = preflight("https://evil.example.net")
    assert "Access-Control-Allow-Origin" not in response
    actual = api.get("/api/orders", HTTP_ORIGIN="https://evil.example.net")
    assert actual.status_code == 200
    assert "Access-Control-Allow-Origin" not in actual


def test_no_origin_is_allowed_by_default(api, settings):
    assert settings.CORS_ALLOWED_ORIGINS == []
    assert "Access-Control-Allow-Origin" not in preflight(LISTED)


# --- throttling -----------------------------------------------------------------------


@pytest.fixture
def rates(monkeypatch, settings):
    """Low rates for this test. DRF's throttles hold the rates dict read at import, so
    the values are changed in that very dict (and restored afterwards)."""
    from rest_framework.throttling import SimpleRateThrottle

    def set_rates(**values: str) -> None:
        for scope, rate in values.items():
            monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, rate)

    return set_rates


def test_authenticated_clients_are_throttled_with_retry_after(api, rates):
    rates(user="3/minute")
    codes = [api.get("/api/strategies").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = api.get("/api/strategies")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= 60


def test_anonymous_clients_are_throttled_on_the_public_health_endpoint(rates):
    rates(anon="2/minute")
    client = APIClient()
    codes = [client.get("/api/health").status_code for _ in range(3)]
    assert all(code in (200, 503) for code in codes[:2]), codes
    assert codes[2] == 429
    assert client.get("/api/health").json()["code"] == "throttled"


def test_throttle_rates_come_from_the_environment():
    env = {k: v for k, v in os.environ.items() if not k.startswith("API_THROTTLE")}
    env.update(
        XQUANT_ENV_FILE="/nonexistent",
        API_THROTTLE_ANON="7/minute",
        API_THROTTLE_USER="9/hour",
        API_THROTTLE_MONEY="3/minute",
        API_TOKEN_FAILURES="4/hour",
    )
    script = (
        "import json, xquant.settings as s; rf = s.REST_FRAMEWORK; "
        "print(json.dumps([rf['DEFAULT_THROTTLE_CLASSES'], rf['DEFAULT_THROTTLE_RATES']]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    classes, configured = json.loads(result.stdout)
    assert configured == {
        "anon": "7/minute",
        "user": "9/hour",
        "money": "3/minute",
        "token_failures": "4/hour",
    }
    assert classes == [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
        "xquant.api.throttling.MoneyRateThrottle",
    ]
