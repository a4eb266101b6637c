"""The research API under /api/: answers, the one error shape, never a 500 on bad input."""

from __future__ import annotations

import pytest

from prediction.models import BacktestRun
from xquant.celery import app as celery_app

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def eager_celery():
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def assert_400(response, *fragments):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] in ("invalid", "malformed_request")
    for fragment in fragments:
        assert fragment in body["message"], body


def test_market_data_returns_decimal_candles_oldest_first(api):
    r = api.get("/api/market-data", {"symbol": "BTCUSDT", "timeframe": "15m", "limit": 3})
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 3 and body["symbol"] == "BTCUSDT"
    times = [c["open_time"] for c in body["candles"]]
    assert times == sorted(times) and times[-1] == "2021-12-29T13:45:00Z"
    assert isinstance(body["candles"][0]["close"], str)


def test_indicators_match_the_library_at_the_latest_bar(api, sample):
    import ta

    r = api.get(
        "/api/indicators", {"symbol": "BTCUSDT", "timeframe": "15m", "limit": 10, "rsi_window": 7}
    )
    assert r.status_code == 200
    body = r.json()
    assert body["params"]["rsi_window"] == 7 and len(body["series"]) == 10
    expected = ta.momentum.RSIIndicator(sample["close"], 7).rsi().iloc[-1]
    assert body["latest"]["rsi"] == pytest.approx(expected)
    assert body["series"][-1]["rsi"] == pytest.approx(expected)
    assert set(body["latest"]) >= {
        "macd",
        "bb_upper",
        "stochrsi_k",
        "atr",
        "ema_fast",
        "sma_slow",
        "vwap",
    }


def test_signals_give_the_latest_signal_with_reasons_and_history(api):
    r = api.get(
        "/api/signals",
        {
            "symbol": "BTCUSDT",
            "timeframe": "1h",
            "strategy": "trend_following",
            "fast": 10,
            "slow": 30,
            "ma_type": "sma",
        },
    )
    assert r.status_code == 200
    body = r.json()
    assert body["params"] == {
        "ma_type": "sma",
        "fast": 10,
        "slow": 30,
        "allow_short": True,
        "rule": "cross",
    }
    latest = body["latest"]
    assert latest["signal"] in ("long", "short", "flat") and latest["action"]
    assert any("SMA(10)" in reason for reason in latest["reasons"])
    assert body["history"] and all(
        h["signal"] in ("long", "short", "flat") for h in body["history"]
    )
    # Time is the close of the decision bar: the last 1h bar opens 13:00.
    assert latest["time"] == "2021-12-29T14:00:00+00:00"


@pytest.mark.parametrize("strategy", ["mean_reversion", "macd_stochrsi", "bollinger"])
def test_every_signal_strategy_answers(api, strategy):
    r = api.get("/api/signals", {"symbol": "BTCUSDT", "timeframe": "15m", "strategy": strategy})
    assert r.status_code == 200, r.content
    assert r.json()["latest"]["reasons"]


def test_strategies_lists_signal_and_trading_strategies_with_parameter_ranges(api):
    r = api.get("/api/research/strategies")
    assert r.status_code == 200
    by_name = {s["name"]: s for s in r.json()}
    assert {
        "trend_following",
        "mean_reversion",
        "macd_stochrsi",
        "bollinger",
        "technical",
        "twap",
    } <= set(by_name)
    assert by_name["technical"]["engine"] == "event_driven"
    rsi = {p["name"]: p for p in by_name["mean_reversion"]["params"]}["rsi_window"]
    assert rsi == {
        "name": "rsi_window",
        "type": "integer",
        "default": 14,
        "required": False,
        "min": 2,
        "max": 500,
        "choices": None,
        "help": "",
    }


def test_backtest_runs_and_is_listed_and_shown_with_curve_and_trades(
    api, eager_celery, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        r = api.post(
            "/api/backtest",
            {
                "strategy": "trend_following",
                "symbol": "BTCUSDT",
                "timeframe": "1h",
                "params": {"fast": 10, "slow": 30},
                "settings": {"fee_rate": 0.001, "slippage_bps": 2},
            },
            content_type="application/json",
        )
    assert r.status_code == 202, r.content
    # The test wraps each test in a transaction, so the run starts when it "commits",
    # after the response; outside tests it starts before the response is built.
    assert r.json()["status"] == "queued"
    run = api.get(f"/api/backtests/{r.json()['id']}").json()
    assert run["status"] == "finished" and run["engine"] == "vectorised"
    assert run["settings"]["slippage_bps"] == 2 and run["metrics"]["trade_count"] > 0
    assert run["data"]["sources"] == ["sample:resampled"] and run["data"]["synthetic"] is False
    assert run["data"]["bars"] == run["bar_count"] and "gap_count" in run["data"]
    assert run["metrics"]["annualisation"].startswith("from the data: ")
    listing = api.get("/api/backtests").json()
    assert listing["count"] == 1 and listing["results"][0]["id"] == run["id"]
    assert "equity_curve" not in listing["results"][0]
    detail = api.get(f"/api/backtests/{run['id']}").json()
    assert detail["equity_curve"] and detail["trades"]
    assert BacktestRun.objects.get().created_by.username == "trader"


def test_backtest_on_synthetic_candles_is_asked_for_and_labelled(
    api, eager_celery, django_capture_on_commit_callbacks
):
    from datetime import UTC, datetime, timedelta

    from prediction.services.candles import candles_store
    from tests.prediction.fakes import make_bars

    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    candles_store(
        symbol="ETHUSDT",
        timeframe="1h",
        candles=make_bars(t0, 100, timedelta(hours=1)),
        source="paper",
        synthetic=True,
    )
    body = {"strategy": "bollinger", "symbol": "ETHUSDT", "timeframe": "1h"}
    refused = api.post("/api/backtest", body, content_type="application/json")
    assert_400(refused, "No 1h candles for ETHUSDT; symbols with candles: BTCUSDT")
    with django_capture_on_commit_callbacks(execute=True):
        r = api.post("/api/backtest", {**body, "synthetic": True}, content_type="application/json")
    assert r.status_code == 202, r.content
    run = api.get(f"/api/backtests/{r.json()['id']}").json()
    assert run["status"] == "finished"
    assert run["data"]["synthetic"] is True and run["data"]["sources"] == ["paper"]


def test_backtest_of_a_live_strategy_class_runs_event_driven(
    api, eager_celery, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        r = api.post(
            "/api/backtest",
            {
                "strategy": "technical",
                "timeframe": "1h",
                "params": {"signal": "rsi", "quantity": "0.1", "allow_short": True},
            },
            content_type="application/json",
        )
    assert r.status_code == 202, r.content
    run = api.get(f"/api/backtests/{r.json()['id']}").json()
    assert run["engine"] == "event_driven" and run["status"] == "finished", run["error"]


def test_unknown_backtest_is_404_in_the_error_shape(api):
    r = api.get("/api/backtests/999")
    assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_predict_reports_accuracy_next_to_the_baseline(api):
    r = api.get("/api/predict", {"symbol": "BTCUSDT", "timeframe": "15m", "bars": 1500, "folds": 3})
    assert r.status_code == 200
    body = r.json()
    assert body["direction"] in ("up", "down")
    assert {"oos_accuracy", "baseline_accuracy", "edge"} <= set(body["evaluation"])
    assert "never trained on" in body["verdict"]


def test_health(api):
    body = api.get("/api/research/health/").json()
    assert body["status"] == "ok" and "BTCUSDT" in body["symbols"]


@pytest.mark.parametrize(
    ("url", "params", "fragments"),
    [
        (
            "/api/market-data",
            {"symbol": "NOPEUSDT", "timeframe": "1h"},
            ["No 1h candles for NOPEUSDT"],
        ),
        (
            "/api/market-data",
            {"symbol": "BTCUSDT", "timeframe": "2h30"},
            ["timeframe", "not a valid choice"],
        ),
        (
            "/api/market-data",
            {"symbol": "btc/usdt"},
            ["symbol: Use the exchange symbol in capitals"],
        ),
        (
            "/api/market-data",
            {"symbol": "BTCUSDT", "start": "2021-12-01", "end": "2021-11-01"},
            ["start must be before end"],
        ),
        (
            "/api/market-data",
            {"symbol": "BTCUSDT", "colour": "red"},
            ["Unknown query parameters: colour"],
        ),
        (
            "/api/indicators",
            {"symbol": "BTCUSDT", "rsi_window": 1},
            ["rsi_window: Ensure this value is greater than or equal to 2"],
        ),
        (
            "/api/indicators",
            {"symbol": "BTCUSDT", "rsi_window": "fourteen"},
            ["rsi_window: A valid integer is required"],
        ),
        ("/api/indicators", {"symbol": "BTCUSDT", "limit": 0}, ["limit"]),
        (
            "/api/signals",
            {"symbol": "BTCUSDT", "strategy": "astrology"},
            ["strategy", "not a valid choice"],
        ),
        (
            "/api/signals",
            {"symbol": "BTCUSDT", "fast": 40, "slow": 20},
            ["fast (40) must be smaller than slow (20)"],
        ),
        (
            "/api/signals",
            {"symbol": "BTCUSDT", "timeframe": "1d", "slow": 200, "ma_type": "sma"},
            ["needs more than 200 bars"],
        ),
        (
            "/api/signals",
            {"symbol": "BTCUSDT", "speed": 3},
            ["Unknown trend_following parameters: speed"],
        ),
        ("/api/predict", {"symbol": "BTCUSDT", "timeframe": "1d"}, ["at least 300 are needed"]),
        ("/api/predict", {"symbol": "BTCUSDT", "model": "oracle"}, ["model"]),
    ],
)
def test_bad_queries_are_400_with_a_clear_message(api, url, params, fragments):
    assert_400(api.get(url, params), *fragments)


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ({"strategy": "trend_following", "symbol": "NOPEUSDT"}, ["No 1h candles for NOPEUSDT"]),
        ({"strategy": "trend_following", "timeframe": "9m"}, ["timeframe"]),
        (
            {"strategy": "trend_following", "start": "2021-12-28T00:00:00Z"},
            ["at least 50 are needed"],
        ),
        (
            {"strategy": "mean_reversion", "params": {"oversold": 80}},
            ["oversold < exit_level < overbought"],
        ),
        ({"strategy": "bollinger", "settings": {"fee_rate": 2}}, ["fee_rate"]),
        (
            {"strategy": "bollinger", "settings": {"leverage": 100}},
            ["Unknown backtest settings: leverage"],
        ),
        ({"strategy": "technical", "params": {"signal": "ma_cross"}}, ["quantity"]),
        ({"strategy": "nope"}, ["Unknown strategy 'nope'"]),
        ({}, ["strategy: This field is required."]),
    ],
)
def test_bad_backtest_requests_are_400_and_store_nothing(api, body, fragments):
    assert_400(api.post("/api/backtest", body, content_type="application/json"), *fragments)
    assert not BacktestRun.objects.exists()


def test_malformed_json_is_400(api):
    r = api.post("/api/backtest", "{not json", content_type="application/json")
    assert_400(r, "Malformed request body")


def test_anonymous_requests_are_refused(client):
    for url in (
        "/api/market-data?symbol=BTCUSDT",
        "/api/indicators?symbol=BTCUSDT",
        "/api/predict?symbol=BTCUSDT",
        "/api/backtests",
        "/api/research/strategies",
    ):
        assert client.get(url).status_code == 401


def test_bearer_api_token_is_accepted(client, settings):
    settings.API_TOKEN = "desk-token-0123456789"
    r = client.get("/api/research/health/", HTTP_AUTHORIZATION="Bearer desk-token-0123456789")
    assert r.status_code == 200


def test_every_research_endpoint_is_in_the_openapi_schema(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for path in (
        "/api/market-data",
        "/api/indicators",
        "/api/signals",
        "/api/backtest",
        "/api/backtests",
        "/api/backtests/{run_id}",
        "/api/predict",
        "/api/research/strategies",
    ):
        assert path in schema["paths"], path
    backtest = schema["paths"]["/api/backtest"]["post"]
    assert {"202", "400", "401"} <= set(backtest["responses"])
    assert "requestBody" in backtest


def test_admin_lists_backtest_runs_and_candles_read_only(staff_client):
    from prediction.services.backtests import backtest_run_create

    run = backtest_run_create(strategy="bollinger", symbol="BTCUSDT", timeframe="4h")
    listing = staff_client.get("/admin/prediction/backtestrun/")
    assert listing.status_code == 200 and b"bollinger" in listing.content
    assert staff_client.get(f"/admin/prediction/backtestrun/{run.pk}/change/").status_code == 200
    assert staff_client.get("/admin/prediction/candle/").status_code == 200
    assert staff_client.get("/admin/prediction/candle/add/").status_code == 403
