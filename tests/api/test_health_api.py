"""GET /api/health: public, 200 when everything answers, 503 naming what does not,
never showing a URL or a secret."""

from __future__ import annotations

import socket
import threading
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from trading import health
from trading.health import CheckResult
from trading.models import TraderHeartbeat

pytestmark = pytest.mark.django_db


@pytest.fixture
def anonymous():
    return APIClient()


@pytest.fixture
def fresh_heartbeats(settings):
    settings.TRADING_SYMBOLS = ["BTCUSDT", "ETHUSDT"]
    for symbol in settings.TRADING_SYMBOLS:
        TraderHeartbeat.objects.create(
            symbol=symbol, last_tick_at=timezone.now(), last_tick_ms=Decimal("3.2"), tick_count=7
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def prediction_service():
    """A stand-in remote prediction service on 127.0.0.1 whose /health answers `status`."""
    state = {"status": 200, "paths": []}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            state["paths"].append(self.path)
            self.send_response(state["status"])
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{server.server_port}/v1"
    yield state
    server.shutdown()
    server.server_close()


def checks(response) -> dict:
    return response.json()["checks"]


def test_health_is_public_and_ignores_credentials(anonymous, fresh_heartbeats):
    plain = anonymous.get("/api/health")
    with_bad_token = anonymous.get("/api/health", HTTP_AUTHORIZATION="Bearer wrong")
    assert plain.status_code in (200, 503)
    assert with_bad_token.status_code == plain.status_code
    assert set(checks(plain)) >= {"database", "redis", "exchange", "trader", "prediction"}


def test_database_and_redis_answer(anonymous, fresh_heartbeats):
    body = checks(anonymous.get("/api/health"))
    assert body["database"]["status"] == "ok"
    assert body["database"]["detail"]["vendor"] == "postgresql"
    assert body["redis"]["status"] == "ok"


def test_redis_down_is_503_naming_redis_without_its_url(anonymous, fresh_heartbeats, settings):
    # Throttling and caching use the real cache; only the check's own URL is changed.
    settings.REDIS_URL = f"redis://:s3cret-pass@127.0.0.1:{free_port()}/0"

    response = anonymous.get("/api/health")

    assert response.status_code == 503
    assert "redis" in response.json()["failing"]
    assert checks(response)["redis"]["status"] == "failing"
    assert "s3cret" not in response.content.decode()
    assert "127.0.0.1" not in response.content.decode()


def test_redis_not_configured_is_skipped_not_failing(settings):
    settings.REDIS_URL = ""
    assert health.check_redis().status == "skipped"


def test_stale_heartbeat_fails_the_trader_check(anonymous, settings):
    settings.TRADING_SYMBOLS = ["BTCUSDT", "ETHUSDT"]
    settings.TICK_SECONDS = 20  # stale after 60 s
    TraderHeartbeat.objects.create(
        symbol="BTCUSDT", last_tick_at=timezone.now() - timedelta(seconds=30), last_tick_ms=1
    )
    TraderHeartbeat.objects.create(
        symbol="ETHUSDT", last_tick_at=timezone.now() - timedelta(seconds=90), last_tick_ms=1
    )

    response = anonymous.get("/api/health")

    assert response.status_code == 503
    trader = checks(response)["trader"]
    assert trader["status"] == "failing"
    assert "trader" in response.json()["failing"]
    assert trader["message"] == "no recent tick for ETHUSDT"
    assert trader["detail"]["stale_after_seconds"] == 60
    assert trader["detail"]["symbols"]["BTCUSDT"]["stale"] is False
    assert trader["detail"]["symbols"]["ETHUSDT"]["stale"] is True


def test_symbol_that_never_ticked_is_stale(settings):
    settings.TRADING_SYMBOLS = ["BTCUSDT"]
    result = health.check_trader()
    assert result.status == "failing"
    assert result.detail["symbols"]["BTCUSDT"]["last_tick_at"] is None


def test_prediction_in_process_is_skipped(settings):
    settings.PREDICTION_API_BASE_URL = ""
    assert health.check_prediction().status == "skipped"


def test_remote_prediction_service_that_answers_is_ok(settings, prediction_service):
    settings.PREDICTION_API_BASE_URL = prediction_service["url"]
    result = health.check_prediction()
    assert result.status == "ok"
    assert prediction_service["paths"] == ["/v1/health"]


def test_remote_prediction_service_erroring_or_down_is_failing(settings, prediction_service):
    settings.PREDICTION_API_BASE_URL = prediction_service["url"]
    prediction_service["status"] = 500
    assert health.check_prediction().as_dict()["detail"] == {"mode": "remote", "http_status": 500}

    settings.PREDICTION_API_BASE_URL = f"http://user:pw-secret@127.0.0.1:{free_port()}"
    result = health.check_prediction()
    assert result.status == "failing"
    assert "pw-secret" not in result.message and "127.0.0.1" not in result.message


def test_a_registered_check_is_reported_and_a_crashing_one_is_failing_not_500(
    anonymous, fresh_heartbeats, monkeypatch
):
    monkeypatch.setattr(health, "_CHECKS", dict(health._CHECKS))
    health.health_check("broker")(lambda: CheckResult("ok", "fine"))

    @health.health_check("flaky")
    def flaky() -> CheckResult:
        raise RuntimeError("postgres://admin:hunter2@db/xquant")

    response = anonymous.get("/api/health")

    assert response.status_code == 503
    assert checks(response)["broker"] == {"status": "ok", "message": "fine"}
    assert checks(response)["flaky"]["status"] == "failing"
    assert "flaky" in response.json()["failing"]
    assert "hunter2" not in response.content.decode()


def test_health_never_shows_secrets_or_connection_urls(anonymous, fresh_heartbeats, settings):
    settings.API_TOKEN = "token-value-that-must-not-show"
    settings.EXCHANGE_API_KEY = "exchange-key-must-not-show"
    body = anonymous.get("/api/health").content.decode()
    for secret in (
        settings.API_TOKEN,
        settings.EXCHANGE_API_KEY,
        settings.SECRET_KEY,
        settings.REDIS_URL,
        settings.DATABASES["default"]["NAME"],
    ):
        assert secret not in body


def test_an_unsettled_reconciliation_fails_its_check_and_shows_on_the_overview(
    anonymous, fresh_heartbeats, client, user
):
    from trading.models import ReconcileIssue

    issue = ReconcileIssue.objects.create(
        exchange="binance",
        symbol="BTCUSDT",
        subject="trade-of:4051234567",
        message="1 trade(s) of exchange order 4051234567 not recorded yet",
    )
    body = anonymous.get("/api/health").json()
    check = body["checks"]["reconciliation"]
    assert "reconciliation" in body["failing"]
    assert check["status"] == "failing"
    assert check["message"].startswith("1 need attention; BTCUSDT trade-of:4051234567")
    assert check["detail"]["issues"][0]["subject"] == "trade-of:4051234567"
    client.force_login(user)
    page = client.get("/").content.decode()
    assert 'data-check="reconciliation"' in page
    assert "1 need attention" in page

    issue.resolved_at = timezone.now()
    issue.save()
    check = anonymous.get("/api/health").json()["checks"]["reconciliation"]
    assert (check["status"], check["message"]) == ("ok", "record and exchange agree")
