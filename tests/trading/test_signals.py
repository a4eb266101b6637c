"""The prediction service as the trading loop uses it: asked only when a strategy sizes
by confidence, cached per symbol, checked at start, never a reason to stop trading."""

from __future__ import annotations

import logging
from decimal import Decimal as D

import pytest

from exchanges.base import MarketSnapshot
from tests.factories import StrategyConfigFactory
from tests.prediction.test_prediction_client import FakeService, prediction
from trading.services.signals import CachedSignalSource, prediction_check
from trading.strategies.base import ExternalSignal

pytestmark = pytest.mark.django_db


def technical(name, **params):
    return StrategyConfigFactory(
        name=name,
        kind="technical",
        symbol="BTCUSDT",
        params={
            "signal": "ma_cross",
            "quantity": "0.002",
            "fast_period": 2,
            "slow_period": 3,
            **params,
        },
    )


class Counting:
    def __init__(self):
        self.calls = []

    def __call__(self, symbol):
        self.calls.append(symbol)
        return ExternalSignal(direction=1, confidence=D("0.7"))


def snapshot(clock):
    return MarketSnapshot("BTCUSDT", D("65000"), D("65001"), clock())


def test_the_prediction_is_asked_only_when_a_strategy_sizes_by_confidence(manager, clock):
    source = Counting()
    technical("plain")
    manager.run(symbol="BTCUSDT", snapshot=snapshot(clock), signal_source=source)
    assert source.calls == []
    technical("sized", size_by_confidence=True)
    manager.run(symbol="BTCUSDT", snapshot=snapshot(clock), signal_source=source)
    assert source.calls == ["BTCUSDT"]


def test_cached_signal_source_asks_once_per_refresh_interval():
    now = [0.0]
    fetch = Counting()
    source = CachedSignalSource(fetch, refresh_seconds=60, clock=lambda: now[0])
    assert source("BTCUSDT").direction == 1
    now[0] = 59
    source("BTCUSDT")
    assert fetch.calls == ["BTCUSDT"]
    now[0] = 61
    source("BTCUSDT")
    source("ETHUSDT")
    assert fetch.calls == ["BTCUSDT", "BTCUSDT", "ETHUSDT"]


def test_a_failing_fetch_is_no_view_not_an_error():
    def broken(symbol):
        raise RuntimeError("model exploded")

    assert CachedSignalSource(broken)("BTCUSDT") is None


def test_start_checks_a_configured_prediction_service_and_logs_a_sample(settings, caplog):
    service = FakeService()
    try:
        service.replies = [
            (200, {"status": "ok"}),
            (200, prediction(direction="up", probability=0.66)),
        ]
        settings.PREDICTION_API_BASE_URL = service.url
        with caplog.at_level(logging.INFO, logger="trading.signals"):
            assert prediction_check(["BTCUSDT"]) is True
    finally:
        service.stop()
    assert "is up; sample signal for BTCUSDT: direction 1" in caplog.text
    assert [path.split("?")[0] for path, _ in service.requests] == [
        "/api/research/health/",
        "/api/predict",
    ]


def test_a_prediction_service_that_is_down_does_not_stop_the_trader(settings, caplog):
    settings.PREDICTION_API_BASE_URL = "http://127.0.0.1:9"  # nothing listens there
    with caplog.at_level(logging.WARNING, logger="trading.signals"):
        assert prediction_check(["BTCUSDT"]) is False
    assert "trading continues without it" in caplog.text


def test_without_a_configured_service_the_check_is_silent(settings):
    settings.PREDICTION_API_BASE_URL = ""
    assert prediction_check(["BTCUSDT"]) is True
