"""Hostile input gets a clear 4xx in the error shape, never a 500 or a traceback: deeply
nested and oversized bodies, booleans posing as numbers, unknown websocket paths,
foreign origins, forged log lines, and error pages that would show a password."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from prediction.models import BacktestRun
from trading.selectors import risk_limits_get

pytestmark = pytest.mark.django_db

NESTED = "[" * 1000 + "]" * 1000

JSON_WRITES = [
    ("post", "/api/risk/kill-switch", '{"engage": false, "params": %s}'),
    ("post", "/api/orders", '{"symbol": "BTCUSDT", "side": "BUY", "quantity": %s}'),
    ("post", "/api/strategies", '{"name": "n", "kind": "twap", "symbol": "BTCUSDT", "params": %s}'),
    ("post", "/api/strategies/ta", '{"symbol": "BTCUSDT", "strategy_type": "rsi", "params": %s}'),
    ("patch", "/api/risk/limits", '{"max_order_notional": %s}'),
    ("post", "/api/futures/settings", '{"symbol": "BTCUSDT", "leverage": %s}'),
    ("post", "/api/backtest", '{"strategy": "technical", "settings": %s}'),
]


@pytest.mark.parametrize(("method", "path", "body"), JSON_WRITES)
def test_a_body_nested_a_thousand_levels_is_a_400_in_the_error_shape(api, method, path, body):
    response = getattr(api, method)(path, body % NESTED, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert response.json() == {
        "code": "malformed_request",
        "message": "Malformed request body: JSON nested deeper than 32 levels.",
    }


def test_a_body_nested_just_past_the_bound_is_refused_and_one_within_it_is_read(api):
    deep = {"engage": False, "params": json.loads("[" * 33 + "]" * 33)}
    refused = api.post("/api/risk/kill-switch", deep, format="json")
    assert refused.status_code == 400
    assert "deeper than 32" in refused.json()["message"]
    # Within the bound the body is parsed and validated as usual (unknown field).
    shallow = {"engage": False, "params": json.loads("[" * 5 + "]" * 5)}
    answered = api.post("/api/risk/kill-switch", shallow, format="json")
    assert answered.status_code == 400
    assert answered.json()["fields"] == {"params": ["Unknown field. Allowed: engage, reason."]}


def test_a_body_over_the_upload_limit_is_a_413_in_the_error_shape(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"engage": False, "reason": "x" * 2000})
    response = api.post("/api/risk/kill-switch", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {
        "code": "request_too_large",
        "message": "The request body is larger than 1000 bytes, the most this API accepts.",
    }
    assert risk_limits_get().kill_switch_engaged is False


def test_a_body_found_too_large_only_while_read_is_a_413_too(rf, settings):
    # Without a usable Content-Length Django notices while reading (RequestDataTooBig):
    # inside a DRF view and before one, /api/ answers 413 in the error shape.
    from django.core.exceptions import RequestDataTooBig

    from xquant.api.exceptions import api_exception_handler
    from xquant.api.views import bad_request

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    request = rf.post("/api/orders")
    for response in (
        bad_request(request, RequestDataTooBig("too big")),
        api_exception_handler(RequestDataTooBig("too big"), {"request": request}),
    ):
        assert response.status_code == 413
        assert json.loads(response.content)["code"] == "request_too_large"
    page = bad_request(rf.post("/orders/"), RequestDataTooBig("too big"))
    assert page.status_code == 400 and b"<h1>" in page.content  # pages keep Django's


def test_backtest_settings_refuse_true_as_a_number(api):
    response = api.post(
        "/api/backtest",
        {
            "strategy": "trend_following",
            "symbol": "BTCUSDT",
            "timeframe": "1h",
            "settings": {"fee_rate": True},
        },
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "fee_rate" in json.dumps(response.json())
    assert not BacktestRun.objects.exists()


def test_a_kill_switch_reason_cannot_forge_a_log_line(api, registry_paper):
    from xquant.secrets import RedactSecretsFilter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecretsFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("trading.risk")
    logger.addHandler(handler)
    try:
        forged = "drill\nCRITICAL trading.risk: KILL SWITCH RELEASED by admin\r\x1b[2K"
        response = api.post(
            "/api/risk/kill-switch", {"engage": True, "reason": forged}, format="json"
        )
    finally:
        logger.removeHandler(handler)
    assert response.status_code == 200, response.json()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("WARNING trading.risk: KILL SWITCH ENGAGED: drill\\nCRITICAL")
    assert "\\r\\x1b[2K" in lines[0]


def test_debug_error_pages_never_show_a_connection_password(rf, settings):
    from xquant.secrets import RedactingExceptionReporter

    settings.DEBUG = True
    settings.REDIS_URL = "redis://:hunter2pw@127.0.0.1:6379/0"
    settings.CELERY_BROKER_URL = settings.REDIS_URL
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "redis://user:pw4@cache.internal:6379/1",
        }
    }
    connection_url = settings.REDIS_URL  # a local variable the page would show
    try:
        raise RuntimeError(f"cannot reach {connection_url}")
    except RuntimeError:
        reporter = RedactingExceptionReporter(rf.get("/boom"), *sys.exc_info())
        page = reporter.get_traceback_html()
        text = reporter.get_traceback_text()
    for rendered in (page, text):
        assert "hunter2pw" not in rendered
        assert "pw4@" not in rendered
        assert "redis://:********@127.0.0.1:6379/0" in rendered


WS_ORIGIN = [(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000")]


def _connect(path: str, headers) -> tuple[bool, object]:
    from xquant.asgi import application

    async def scenario():
        communicator = WebsocketCommunicator(application, path, headers=headers)
        connected, code = await communicator.connect(timeout=5)
        await communicator.disconnect()
        return connected, code

    return async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/ws/nope/", "/ws/btcusdt/", "/", "/api/orders", "/ws/"])
def test_an_unknown_websocket_path_is_refused_cleanly(path, caplog):
    with caplog.at_level(logging.ERROR):
        connected, code = _connect(path, WS_ORIGIN)
    assert not connected
    assert code == 4404
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("origin", "host", "accepted"),
    [
        (b"http://127.0.0.1:8000", b"127.0.0.1:8000", True),
        (b"http://127.0.0.1:9999", b"127.0.0.1:8000", False),  # another port, same host
        (b"http://127.0.0.1", b"127.0.0.1:8000", False),
        (b"https://localhost", b"localhost:443", True),
        (b"http://localhost:8000", b"localhost", False),
        (b"http://[::1]:8000", b"[::1]:8000", True),
        (b"null", b"127.0.0.1:8000", False),
    ],
)
def test_the_websocket_origin_check_considers_the_port(origin, host, accepted, client, user):
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    connected, _ = _connect(
        "/ws/dashboard/", [(b"origin", origin), (b"host", host), (b"cookie", cookie)]
    )
    assert connected is accepted
