"""Backtest runs: validation up front, stored results, progress events, Celery launch,
and the management command."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
from asgiref.sync import async_to_sync
from channels.layers import channel_layers, get_channel_layer
from django.core.management import CommandError, call_command
from django.db import connection

from prediction.models import BacktestRun, BacktestStatus
from prediction.services.backtests import backtest_run_create, backtest_run_execute
from prediction.tasks import backtest_run_launch
from xquant import realtime
from xquant.celery import app as celery_app
from xquant.errors import ValidationError

pytestmark = pytest.mark.django_db


async def _receive_all(layer, channel: str, quiet: float) -> list[tuple[str, dict]]:
    out = []
    while True:
        try:
            message = await asyncio.wait_for(layer.receive(channel), quiet)
        except TimeoutError:
            return out
        out.extend((e["event"], e["data"]) for e in realtime.events_of(message))


@pytest.fixture
def events():
    """Events published to the dashboard group, received over the real Redis layer."""
    channel_layers.backends.clear()
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(realtime.DASHBOARD_GROUP, channel)

    def received(quiet: float = 0.5):
        return async_to_sync(_receive_all)(layer, channel, quiet)

    yield received
    async_to_sync(layer.group_discard)(realtime.DASHBOARD_GROUP, channel)
    channel_layers.backends.clear()


@pytest.fixture
def eager_celery():
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def test_signal_backtest_run_stores_metrics_curve_and_trades_and_reports_progress(events):
    run = backtest_run_create(
        strategy="trend_following",
        symbol="BTCUSDT",
        timeframe="1h",
        params={"fast": 10, "slow": 30, "ma_type": "sma"},
        settings={"fee_rate": 0.001},
    )
    assert run.status == BacktestStatus.QUEUED and run.engine == "vectorised"
    assert run.params == {
        "ma_type": "sma",
        "fast": 10,
        "slow": 30,
        "allow_short": True,
        "rule": "cross",
    }
    assert run.config["fee_rate"] == 0.001 and run.bar_count > 2_000
    run = backtest_run_execute(run_id=run.pk)
    assert run.status == BacktestStatus.FINISHED and run.progress == 100
    assert run.metrics["trade_count"] > 10
    assert set(run.metrics) >= {
        "total_return",
        "cagr",
        "sharpe",
        "sortino",
        "max_drawdown",
        "max_drawdown_duration_seconds",
        "win_rate",
        "profit_factor",
        "expectancy",
        "trade_count",
        "exposure",
    }
    assert run.equity_curve[0][0] == "2021-09-27T13:00:00+00:00" and run.equity_curve[-1][
        1
    ] == pytest.approx(run.metrics["final_equity"])
    assert run.trades[0]["side"] in ("long", "short") and run.trades[0]["entry_time"]
    assert run.started_at <= run.finished_at
    published = events()
    assert published[0] == ("backtest.progress", {"id": run.pk, "percent": 0})
    assert ("backtest.progress", {"id": run.pk, "percent": 100}) in published
    assert published[-1][0] == "backtest.finished"
    assert published[-1][1]["status"] == "finished" and published[-1][1]["id"] == run.pk


def test_event_driven_run_reports_progress_in_steps(events, monkeypatch):
    from tests.prediction.strategies import TinyMaCross
    from trading.strategies import base

    monkeypatch.setitem(base.STRATEGY_CLASSES, "technical", TinyMaCross)
    run = backtest_run_create(
        strategy="technical",
        symbol="BTCUSDT",
        timeframe="15m",
        params={"signal": "ma_cross", "quantity": "0.5", "fast_period": 5, "slow_period": 20},
    )
    assert run.engine == "event_driven"
    run = backtest_run_execute(run_id=run.pk)
    assert run.status == BacktestStatus.FINISHED, run.error
    assert run.metrics["trade_count"] > 100
    percents = [d["percent"] for e, d in events() if e == "backtest.progress"]
    assert percents[0] == 0 and percents[-1] == 100 and len(percents) >= 8
    assert percents == sorted(percents)


def test_event_driven_run_honours_fraction_sizing_instead_of_the_strategys_quantity():
    params = {"signal": "ma_cross", "quantity": "0.5", "fast_period": 5, "slow_period": 20}
    as_live = backtest_run_create(
        strategy="technical", symbol="BTCUSDT", timeframe="15m", params=params
    )
    assert as_live.config["sizing"] == "strategy"  # left out: the class's own quantity
    half = backtest_run_create(
        strategy="technical",
        symbol="BTCUSDT",
        timeframe="15m",
        params=params,
        settings={"sizing": "fraction", "fraction": 0.5, "initial_capital": 100_000},
    )
    as_live = backtest_run_execute(run_id=as_live.pk)
    half = backtest_run_execute(run_id=half.pk)
    assert {t["quantity"] for t in as_live.trades} == {0.5}
    first = half.trades[0]
    # Half the equity, fee inside: quantity * price * (1 + fee) = 50,000.
    assert first["quantity"] * first["entry_price"] * 1.0004 == pytest.approx(50_000, rel=1e-6)
    assert half.metrics["trade_count"] == as_live.metrics["trade_count"] > 10


def test_sizing_an_execution_algorithm_cannot_follow_is_refused_up_front():
    with pytest.raises(ValidationError, match="cannot be applied to the twap strategy"):
        backtest_run_create(
            strategy="twap",
            symbol="BTCUSDT",
            timeframe="15m",
            params={
                "side": "BUY",
                "total_quantity": "1",
                "slices": 4,
                "interval_seconds": 900,
            },
            settings={"sizing": "fraction"},
        )
    with pytest.raises(ValidationError, match="Sizing 'strategy' needs a trading strategy"):
        backtest_run_create(
            strategy="bollinger", symbol="BTCUSDT", timeframe="4h", settings={"sizing": "strategy"}
        )


def test_launch_runs_the_backtest_on_commit_through_celery(
    eager_celery, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = backtest_run_launch(strategy="bollinger", symbol="BTCUSDT", timeframe="4h")
    assert (
        BacktestRun.objects.get(pk=run.pk).status == BacktestStatus.QUEUED
    )  # nothing before commit
    for callback in callbacks:
        callback()
    assert BacktestRun.objects.get(pk=run.pk).status == BacktestStatus.FINISHED


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"strategy": "astrology"},
            "Unknown strategy 'astrology'. Signal strategies .*: trend_following, mean_reversion",
        ),
        ({"strategy": "trend_following", "engine": "quantum"}, "Unknown engine 'quantum'"),
        (
            {"strategy": "trend_following", "params": {"fast": 50, "slow": 20}},
            r"fast \(50\) must be smaller than slow \(20\)",
        ),
        (
            {"strategy": "mean_reversion", "params": {"rsi_window": 0}},
            "rsi_window: Ensure this value is greater than or equal to 2",
        ),
        (
            {"strategy": "bollinger", "settings": {"fee_rate": -1}},
            "fee_rate: Ensure this value is greater than or equal to 0",
        ),
        ({"strategy": "bollinger", "timeframe": "2d"}, "Unknown timeframe '2d'"),
        ({"strategy": "bollinger", "symbol": "NOPEUSDT"}, "No 1h candles for NOPEUSDT"),
        (
            {"strategy": "bollinger", "start": datetime(2021, 12, 28, tzinfo=UTC)},
            "at least 50 are needed",
        ),
    ],
)
def test_bad_requests_are_refused_before_anything_is_stored(kwargs, message):
    request = {"symbol": "BTCUSDT", "timeframe": "1h", **kwargs}
    with pytest.raises(ValidationError, match=message):
        backtest_run_create(**request)
    assert not BacktestRun.objects.exists()


def test_backtest_command_prints_metrics_and_stores_the_run(capsys):
    call_command(
        "backtest",
        "mean_reversion",
        "--timeframe",
        "1h",
        "--param",
        "rsi_window=10",
        "--set",
        "fee_rate=0.0005",
        "--no-progress",
    )
    out = capsys.readouterr().out
    run = BacktestRun.objects.get()
    assert run.params["rsi_window"] == 10 and run.config["fee_rate"] == 0.0005
    assert f"backtest #{run.pk}: mean_reversion on BTCUSDT 1h" in out
    assert "sharpe" in out and "max_drawdown" in out
    assert f"  data: sample:resampled, {run.data['first']} to {run.data['last']}, " in out


def test_backtest_command_explains_bad_parameters():
    with pytest.raises(CommandError, match="Unknown trend_following parameters: speed"):
        call_command("backtest", "trend_following", "--param", "speed=3", "--no-progress")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_launched_backtest_runs_on_a_real_celery_worker_and_reports_over_redis(events):
    """The real broker, a worker process on the test database, and the worker's progress
    events reaching this process through the Redis channel layer."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    database_url = f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "xquant",
            "worker",
            "--pool=solo",
            "--hostname=backtest-test@%h",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "WARNING",
        ],
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        run = backtest_run_launch(strategy="macd_stochrsi", symbol="BTCUSDT", timeframe="1h")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            run.refresh_from_db()
            if run.status in (BacktestStatus.FINISHED, BacktestStatus.FAILED):
                break
            time.sleep(0.5)
        assert run.status == BacktestStatus.FINISHED, run.error or run.status
        assert run.metrics["bars"] == run.bar_count
        finished = [d for e, d in events(quiet=2) if e == "backtest.finished"]
        assert finished == [
            {
                "id": run.pk,
                "status": "finished",
                "error": "",
                "total_return": run.metrics["total_return"],
                "sharpe": run.metrics["sharpe"],
                "trade_count": run.metrics["trade_count"],
            }
        ]
    finally:
        worker.terminate()
        worker.wait(timeout=30)


@pytest.mark.django_db(transaction=True)
def test_in_embedded_mode_a_launched_backtest_runs_beside_the_request(settings):
    import time

    settings.REDIS_URL = ""
    run = backtest_run_launch(strategy="bollinger", symbol="BTCUSDT", timeframe="4h")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status in ("finished", "failed"):
            break
        time.sleep(0.2)
    assert run.status == "finished", run.error


def test_a_run_on_synthetic_candles_is_labelled_and_real_reads_never_see_them():
    from datetime import timedelta

    from prediction.services.candles import candles_store
    from tests.prediction.fakes import make_bars

    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    bars = make_bars(t0, 120, timedelta(hours=1))
    candles_store(symbol="ETHUSDT", timeframe="1h", candles=bars, source="paper", synthetic=True)
    with pytest.raises(ValidationError, match="No 1h candles for ETHUSDT; symbols with candles"):
        backtest_run_create(strategy="bollinger", symbol="ETHUSDT", timeframe="1h")
    run = backtest_run_create(
        strategy="bollinger", symbol="ETHUSDT", timeframe="1h", synthetic=True
    )
    run = backtest_run_execute(run_id=run.pk)
    assert run.status == BacktestStatus.FINISHED, run.error
    assert run.data == {
        "sources": ["paper"],
        "synthetic": True,
        "first": t0.isoformat(),
        "last": (t0 + timedelta(hours=119)).isoformat(),
        "bars": 120,
        "gap_count": 0,
        "missing_bars": 0,
        "gaps": [],
    }


def test_bench_backtest_reports_wall_clock_first_and_cpu_time_beside_it(capsys):
    call_command("bench_backtest", "--bars", "3000", "--repeat", "1")
    out = capsys.readouterr().out
    assert "wall-clock (process CPU time in brackets)" in out
    assert "event-driven live Technical" in out and out.count(" s (") == 3
