"""LOG_FORMAT=json: one JSON object per line with the context of the tick, the order or
the request it was logged in; no secret value in any line; text stays the default."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from decimal import Decimal as D

import pytest
from django.conf import settings

from tests.conftest import ROOT, child_env, trader_env
from tests.factories import StrategyConfigFactory
from trading.models import OrderSource, OrderStatus
from trading.services.orders import RetryPolicy, order_create, order_submit
from trading.services.risk import risk_state_get
from trading.strategies.base import OrderIntent
from xquant.logs import JsonFormatter, LogContextFilter
from xquant.secrets import RedactSecretsFilter

SECRET = "api-token-that-must-never-be-logged-42"


@pytest.fixture
def json_lines():
    """The root logger's records in this process, formatted as LOG_FORMAT=json does."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(LogContextFilter())
    handler.addFilter(RedactSecretsFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(level)


def test_the_settings_use_text_unless_told_json():
    assert settings.LOG_FORMAT == "text"
    assert settings.LOGGING["handlers"]["console"]["formatter"] == "plain"


@pytest.mark.django_db(transaction=True)
def test_json_lines_of_a_trader_parse_and_carry_the_symbol():
    StrategyConfigFactory(
        name="log-twap",
        kind="twap",
        symbol="BTCUSDT",
        params={"side": "BUY", "total_quantity": "0.002", "slices": 1, "interval_seconds": 60},
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "runtrader", "--once", "--exchange", "paper"],
        cwd=ROOT,
        env=trader_env(LOG_FORMAT="json", API_TOKEN=SECRET),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert lines, "the trader logged nothing"
    for line in lines:
        assert {"timestamp", "level", "logger", "message"} <= line.keys()
    (tick,) = [line for line in lines if line["message"].startswith("BTCUSDT tick: BUY")]
    assert tick["symbol"] == "BTCUSDT"
    assert SECRET not in result.stderr


def test_no_secret_appears_in_a_json_line_wherever_it_hides():
    script = """
import logging, django
django.setup()
from django.conf import settings
log = logging.getLogger("trading.test")
log.warning("token is %s", settings.API_TOKEN)
log.warning("in extra", extra={"detail": "Bearer " + settings.API_TOKEN})
try:
    raise RuntimeError("failed with " + settings.API_TOKEN)
except RuntimeError:
    log.exception("an error")
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=child_env(
            LOG_FORMAT="json", API_TOKEN=SECRET, XQUANT_ENV_FILE="/nonexistent", DATABASE_URL=""
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert [line["message"] for line in lines] == [
        "token is ********",
        "in extra",
        "an error",
    ]
    assert lines[1]["detail"] == "Bearer ********"
    assert "RuntimeError: failed with ********" in lines[2]["exc_info"]
    assert SECRET not in result.stderr


@pytest.mark.django_db
def test_an_order_submission_logs_with_the_order_ids(
    json_lines, binance_exchange, binance_emulator
):
    binance_emulator.set_book("BTCUSDT", "65000.0", "65000.1")
    binance_emulator.reject("POST", "/fapi/v1/order", code=-2019, msg="Margin is insufficient.")
    order = order_create(
        intent=OrderIntent(key="", symbol="BTCUSDT", side="BUY", quantity=D("0.002")),
        exchange=binance_exchange,
        source=OrderSource.API,
        risk_state=risk_state_get(exchange_name=binance_exchange.name),
        reference_price=D("65000.05"),
    )
    order = order_submit(
        order=order, exchange=binance_exchange, policy=RetryPolicy(base_delay=0.01)
    )
    assert order.status == OrderStatus.REJECTED

    (rejected,) = [line for line in json_lines() if "rejected [-2019]" in line["message"]]
    assert rejected["order_id"] == order.pk
    assert rejected["client_order_id"] == order.client_order_id
    assert rejected["symbol"] == "BTCUSDT"
    assert rejected["level"] == "WARNING" and rejected["logger"] == "trading.orders"


@pytest.mark.django_db
def test_a_request_logs_with_its_request_id_and_user(json_lines, staff_client, admin_user):
    response = staff_client.post(
        "/api/risk/kill-switch",
        {"engage": True, "reason": "log test"},
        content_type="application/json",
        HTTP_X_REQUEST_ID="req-123",
    )

    assert response.status_code == 200
    assert response["X-Request-ID"] == "req-123"
    (line,) = [line for line in json_lines() if line["message"].startswith("KILL SWITCH")]
    assert (line["request_id"], line["user"]) == ("req-123", admin_user.username)


@pytest.mark.django_db
def test_each_request_gets_a_new_id_when_the_client_sends_none(client):
    first = client.get("/api/health")["X-Request-ID"]
    second = client.get("/api/health")["X-Request-ID"]
    assert len(first) == 32 and first != second


@pytest.mark.django_db
def test_a_request_authenticated_by_the_api_token_logs_as_that_client(json_lines, settings):
    from rest_framework.test import APIClient

    settings.API_TOKEN = "desk-token-for-the-log-test-0123"
    settings.API_TOKEN_ROLE = "risk"  # the kill switch is the risk role's
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {settings.API_TOKEN}")
    response = api.post(
        "/api/risk/kill-switch", {"engage": True, "reason": "log test"}, format="json"
    )

    assert response.status_code == 200
    (line,) = [line for line in json_lines() if line["message"].startswith("KILL SWITCH")]
    assert line["user"] == "api-token"
    assert len(line["request_id"]) == 32
    assert settings.API_TOKEN not in json.dumps(json_lines())
