"""Market and Backtests pages: research's candles, indicators and backtest service behind
the dashboard's charts."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from itertools import pairwise

import pytest
from django.utils import timezone

from exchanges.registry import exchange_cache_clear
from prediction.models import BacktestRun, BacktestStatus
from tests.factories import FillFactory, OrderFactory, StrategyConfigFactory
from xquant.celery import app as celery_app

pytestmark = pytest.mark.django_db


@pytest.fixture
def trader(client, user, settings):
    settings.EXCHANGE = "paper"
    settings.TRADING_SYMBOLS = ["BTCUSDT", "ETHUSDT"]
    exchange_cache_clear()
    client.force_login(user)
    yield client
    exchange_cache_clear()


@pytest.fixture
def eager_celery():
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def embedded_json(html: str, element_id: str):
    match = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S
    )
    assert match, f"no #{element_id} in the page"
    return json.loads(match.group(1))


@pytest.mark.parametrize("url", ["/market/", "/market/BTCUSDT/", "/backtests/", "/backtests/1/"])
def test_research_pages_require_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_market_index_opens_the_first_traded_symbol(trader):
    assert trader.get("/market/").url == "/market/BTCUSDT/"


def test_market_chart_has_recent_candles_default_indicators_and_the_desks_fills(trader):
    now = timezone.now()
    twap = StrategyConfigFactory(name="twap")
    for _ in range(3):
        FillFactory(symbol="BTCUSDT", side="BUY", executed_at=now, strategy=twap)
    FillFactory(symbol="BTCUSDT", side="SELL", executed_at=now - timedelta(minutes=5))
    FillFactory(symbol="ETHUSDT", side="SELL", executed_at=now)
    OrderFactory(symbol="BTCUSDT", status="rejected", error_code="risk.max_order_notional")

    html = trader.get("/market/BTCUSDT/").content.decode()
    chart = embedded_json(html, "market-chart-data")

    assert chart["notice"] == ""
    candles = chart["candles"]
    assert 250 <= len(candles) <= 300
    times = [c["time"] for c in candles]
    assert times == sorted(times) and all(b - a == 60 for a, b in pairwise(times))
    assert all(c["low"] <= min(c["open"], c["close"]) <= c["high"] for c in candles)
    assert set(chart["indicators"]) == {"sma", "bb", "rsi"}
    assert {"sma_fast", "sma_slow", "bb_upper", "bb_middle", "bb_lower", "rsi"} == set(
        chart["series"]
    )
    assert all(0 <= point["value"] <= 100 for point in chart["series"]["rsi"])
    bar = int(now.timestamp()) - int(now.timestamp()) % 60
    kinds = {(m["time"], m["kind"]): m for m in chart["markers"]}
    assert kinds[(bar, "buy")]["text"] == "B×3"
    assert kinds[(bar, "buy")]["quantity"] == "0.03"
    assert any(m["kind"] == "sell" for m in chart["markers"])
    assert any(m["kind"] == "rejected" for m in chart["markers"])


def test_market_chart_data_follows_the_controls(trader):
    twap = StrategyConfigFactory(name="twap")
    FillFactory(symbol="BTCUSDT", executed_at=timezone.now(), strategy=twap)
    FillFactory(symbol="BTCUSDT", executed_at=timezone.now())
    response = trader.get(
        f"/market/BTCUSDT/?data=chart&timeframe=5m&indicators=macd&strategy={twap.pk}"
    )
    chart = response.json()
    assert chart["timeframe"] == "5m" and chart["bar_seconds"] == 300
    assert set(chart["series"]) == {"macd", "macd_signal", "macd_diff"}
    assert chart["indicators"]["macd"]["pane"] is True
    [marker] = chart["markers"]
    assert marker["text"] == "B"


def test_market_of_an_unknown_symbol_is_not_found(trader):
    assert trader.get("/market/NOPEUSDT/").status_code == 404


def test_backtest_form_lists_both_engines_strategies(trader):
    html = trader.get("/backtests/").content.decode()
    assert '<optgroup label="Signal strategies (vectorised)">' in html
    assert '<optgroup label="Trading strategies (event-driven)">' in html
    catalogue = embedded_json(html, "strategy-catalogue")
    assert {"trend_following", "twap"} <= {spec["name"] for spec in catalogue}


def test_running_a_backtest_from_the_form_stores_it_and_shows_its_results(
    trader, eager_celery, django_capture_on_commit_callbacks, dashboard_events
):
    with django_capture_on_commit_callbacks(execute=True):
        response = trader.post(
            "/backtests/",
            {
                "strategy": "trend_following",
                "symbol": "BTCUSDT",
                "timeframe": "4h",
                "start": "2021-10-01",
                "end": "2021-12-15",
                "params": '{"fast": 5, "slow": 20}',
                "initial_capital": "5000",
                "fee_rate": "0.05",
                "slippage_bps": "2",
            },
            headers={"Accept": "application/json"},
        )
    assert response.status_code == 200, response.content
    payload = response.json()
    run = BacktestRun.objects.get(pk=payload["id"])
    assert payload["url"] == f"/backtests/{run.pk}/"
    assert run.status == BacktestStatus.FINISHED
    assert run.params["fast"] == 5 and run.params["slow"] == 20
    assert run.config["initial_capital"] == 5000
    assert run.config["fee_rate"] == pytest.approx(0.0005)
    assert run.start.isoformat().startswith("2021-10-01")
    assert run.end.isoformat().startswith("2021-12-16")
    progress = [d["percent"] for d in dashboard_events.of_type("backtest.progress")]
    assert progress and progress[-1] == 100

    html = trader.get(payload["url"]).content.decode()
    assert 'data-metric="total_return"' in html
    assert 'data-metric="max_drawdown"' in html
    equity = embedded_json(html, "equity-data")
    assert len(equity["equity"]) == len(equity["drawdown"]) > 10
    assert equity["equity"][0]["value"] == pytest.approx(5000, rel=0.01)
    assert max(point["value"] for point in equity["drawdown"]) <= 0
    assert min(point["value"] for point in equity["drawdown"]) == pytest.approx(
        run.metrics["max_drawdown"] * 100, abs=0.5
    )
    assert "<table data-trades>" in html


def test_backtest_form_offers_only_timeframes_with_candles_and_refuses_others(trader):
    html = trader.get("/backtests/").content.decode()
    offered = re.findall(
        r'<option value="(\w+)"', html.split('name="timeframe"')[1].split("</select>")[0]
    )
    assert offered == ["15m", "1h", "4h", "1d"]  # the bundled sample's
    response = trader.post(
        "/backtests/",
        {
            "strategy": "trend_following",
            "symbol": "BTCUSDT",
            "timeframe": "1m",
            "params": "{}",
            "initial_capital": "5000",
            "fee_rate": "0.04",
            "slippage_bps": "0",
        },
    )
    assert response.status_code == 200 and not BacktestRun.objects.exists()
    assert "Select a valid choice. 1m is not one of the available choices." in (
        response.content.decode()
    )


def test_a_finished_backtest_shows_its_data_source_range_and_gaps(trader):
    from prediction.services.backtests import backtest_run_create, backtest_run_execute

    run = backtest_run_create(strategy="trend_following", symbol="BTCUSDT", timeframe="15m")
    run = backtest_run_execute(run_id=run.pk)
    assert run.data["sources"] == ["sample"] and run.data["synthetic"] is False
    assert run.data["bars"] == run.bar_count == 8_686
    html = trader.get(f"/backtests/{run.pk}/").content.decode()
    assert "<dd data-run-data>sample</dd>" in html
    assert "from the data: 8,685 returns over" in html  # the annualisation, said
    assert run.data["first"] in html and run.data["last"] in html
    gaps = run.data["gap_count"]
    assert (f"{gaps} ({run.data['missing_bars']} bars missing)" if gaps else "none") in html


def test_a_backtest_the_service_refuses_says_why_and_stores_nothing(trader):
    response = trader.post(
        "/backtests/",
        {
            "strategy": "trend_following",
            "symbol": "BTCUSDT",
            "timeframe": "1h",
            "params": '{"fast": 50, "slow": 10, "typo": 1}',
            "initial_capital": "5000",
            "fee_rate": "0.04",
            "slippage_bps": "0",
        },
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert "typo" in response.json()["error"]
    assert not BacktestRun.objects.exists()


def test_a_backtest_form_with_broken_json_is_refused(trader):
    response = trader.post(
        "/backtests/",
        {
            "strategy": "trend_following",
            "symbol": "BTCUSDT",
            "timeframe": "1h",
            "params": "{fast: 5",
            "initial_capital": "5000",
            "fee_rate": "0.04",
            "slippage_bps": "0",
        },
    )
    assert response.status_code == 200
    assert "Not JSON" in response.content.decode()
    assert not BacktestRun.objects.exists()


def test_a_running_backtest_shows_its_progress(trader):
    run = BacktestRun.objects.create(
        engine="vectorised",
        strategy="trend_following",
        symbol="BTCUSDT",
        timeframe="1h",
        status=BacktestStatus.RUNNING,
        progress=40,
        bar_count=2000,
    )
    html = trader.get(f"/backtests/{run.pk}/").content.decode()
    assert f'data-progress-bar="{run.pk}"' in html
    assert 'aria-valuenow="40"' in html
    assert f'data-live-on="backtest.finished:id={run.pk}"' in html


def test_a_backtests_strategy_parameters_and_its_settings_are_listed_apart(trader):
    import re

    run = BacktestRun.objects.create(
        engine="event_driven",
        strategy="technical",
        symbol="BTCUSDT",
        timeframe="1h",
        status=BacktestStatus.RUNNING,
        params={"signal": "ma_cross", "quantity": "0.01"},
        config={"quantity": 1.0, "fee_rate": 0.0004},
    )
    html = trader.get(f"/backtests/{run.pk}/").content.decode()
    params = re.search(
        r"<h3>Strategy parameters</h3>\s*<dl[^>]*data-run-params>(.*?)</dl>", html, re.S
    )
    config = re.search(
        r"<h3>Backtest settings</h3>\s*<dl[^>]*data-run-config>(.*?)</dl>", html, re.S
    )
    assert params and config
    assert params.group(1).count(">Quantity<") == 1 and "0.01" in params.group(1)
    assert config.group(1).count(">Quantity<") == 1 and "Fee rate" in config.group(1)
