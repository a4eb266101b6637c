"""The prediction client against a real HTTP server on 127.0.0.1: timeouts, retries,
5xx, 4xx and the circuit breaker opening and closing."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from prediction.client import CLOSED, HALF_OPEN, OPEN, CircuitBreaker, PredictionClient
from trading.strategies.base import ExternalSignal

EDGE = {"edge": 0.05, "edge_stderr": 0.01}
NO_EDGE = {"edge": 0.01, "edge_stderr": 0.01}


def prediction(direction="up", probability=0.62, evaluation=EDGE):
    return {"direction": direction, "probability": probability, "evaluation": evaluation}


class FakeService:
    """Answers each request with the next scripted reply: (status, body) or ("sleep", s)."""

    def __init__(self):
        self.replies: list = []
        self.requests: list[tuple[str, dict]] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                service.requests.append((self.path, dict(self.headers)))
                kind, value = service.replies.pop(0) if service.replies else (200, {"status": "ok"})
                if kind == "sleep":
                    time.sleep(value)
                    kind, value = 200, prediction()
                body = json.dumps(value).encode()
                try:
                    self.send_response(kind)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def service():
    s = FakeService()
    yield s
    s.stop()


class Clock:
    def __init__(self):
        self.now = 1_000.0

    def __call__(self):
        return self.now


def client_for(service, **kwargs):
    kwargs.setdefault("timeout", 0.3)
    kwargs.setdefault("retries", 2)
    kwargs.setdefault("backoff_seconds", 0.01)
    return PredictionClient(base_url=service.url, token="remote-token", **kwargs)


def test_signal_with_a_demonstrated_edge_carries_direction_and_confidence(service):
    service.replies = [(200, prediction("down", 0.61))]
    signal = client_for(service).signal("BTCUSDT")
    assert signal == ExternalSignal(direction=-1, confidence=Decimal("0.61"))
    path, headers = service.requests[0]
    assert path == "/api/predict?symbol=BTCUSDT&timeframe=15m"
    assert headers["Authorization"] == "Bearer remote-token"


def test_signal_without_a_demonstrated_edge_is_no_view(service):
    service.replies = [(200, prediction("up", 0.7, NO_EDGE))]
    assert client_for(service).signal("BTCUSDT") == ExternalSignal(
        direction=0, confidence=Decimal(0)
    )


def test_server_errors_are_retried_and_a_later_success_is_used(service):
    service.replies = [(503, {"code": "x"}), (500, {"code": "y"}), (200, prediction())]
    client = client_for(service)
    assert client.signal("BTCUSDT").direction == 1
    assert len(service.requests) == 3
    assert client.breaker.failures == 0


def test_timeouts_are_retried_a_bounded_number_of_times_then_give_none(service):
    service.replies = [("sleep", 1.0)] * 3
    client = client_for(service, timeout=0.2, retries=2)
    started = time.monotonic()
    assert client.signal("BTCUSDT") is None
    assert time.monotonic() - started < 1.5  # three 0.2 s attempts, not three 1 s waits
    assert len(service.requests) == 3
    assert client.breaker.failures == 1


def test_client_errors_are_not_retried_and_do_not_trip_the_breaker(service):
    service.replies = [(400, {"code": "invalid", "message": "No 15m candles for XYZUSDT"})]
    client = client_for(service)
    assert client.signal("XYZUSDT") is None
    assert len(service.requests) == 1
    assert client.breaker.failures == 0


def test_breaker_opens_after_repeated_failures_and_closes_after_a_successful_trial(service):
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, reset_seconds=30, clock=clock)
    client = client_for(service, retries=0, breaker=breaker)
    service.replies = [(500, {}), (500, {})]
    assert client.signal("BTCUSDT") is None
    assert breaker.state == CLOSED
    assert client.signal("BTCUSDT") is None
    assert breaker.state == OPEN

    # Open: no request reaches the service at all.
    assert client.signal("BTCUSDT") is None
    assert len(service.requests) == 2
    assert client.health()["status"] == "circuit_open"

    clock.now += 31
    assert breaker.state == HALF_OPEN
    service.replies = [(200, prediction())]
    assert client.signal("BTCUSDT").direction == 1  # the trial call
    assert breaker.state == CLOSED and len(service.requests) == 3


def test_a_failed_trial_call_opens_the_breaker_again(service):
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_seconds=10, clock=clock)
    client = client_for(service, retries=0, breaker=breaker)
    service.replies = [(502, {}), (502, {})]
    client.signal("BTCUSDT")
    clock.now += 11
    assert client.signal("BTCUSDT") is None  # trial fails
    assert breaker.state == OPEN
    assert len(service.requests) == 2


def test_connection_refused_counts_as_a_failure():
    client = PredictionClient(
        base_url="http://127.0.0.1:9", retries=1, backoff_seconds=0.01, timeout=0.3
    )
    assert client.signal("BTCUSDT") is None
    assert client.breaker.failures == 1


def test_health_reports_the_remote_service(service):
    service.replies = [(200, {"status": "ok", "candles": 10})]
    health = client_for(service).health()
    assert health == {"status": "ok", "mode": "remote", "service": {"status": "ok", "candles": 10}}
    assert service.requests[0][0] == "/api/research/health/"


@pytest.mark.django_db
def test_in_process_mode_runs_the_model_here(settings):
    settings.PREDICTION_API_BASE_URL = ""
    client = PredictionClient(require_edge=False)
    assert not client.remote
    assert client.health() == {"status": "ok", "mode": "in-process"}
    signal = client.signal("BTCUSDT")  # the bundled candles are loaded on demand
    assert signal.direction in (1, -1) and Decimal("0.5") <= signal.confidence <= 1
    assert PredictionClient().signal("NOSUCHUSDT") is None
