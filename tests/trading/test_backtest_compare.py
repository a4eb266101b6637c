"""Backtest comparison: 2 to 5 finished runs, equity curves overlaid as returns since
their start, metrics side by side."""

from __future__ import annotations

import json
import re

import pytest

from prediction.models import BacktestRun, BacktestStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def trader(client, user):
    client.force_login(user)
    return client


def finished(strategy, capital, end_equity, sharpe):
    return BacktestRun.objects.create(
        engine="vectorised",
        strategy=strategy,
        symbol="BTCUSDT",
        timeframe="1h",
        status=BacktestStatus.FINISHED,
        metrics={
            "total_return": end_equity / capital - 1,
            "sharpe": sharpe,
            "initial_equity": capital,
            "final_equity": end_equity,
        },
        equity_curve=[
            ["2024-01-01T00:00:00+00:00", capital],
            ["2024-01-01T01:00:00+00:00", (capital + end_equity) / 2],
            ["2024-01-01T02:00:00+00:00", end_equity],
        ],
    )


def test_two_runs_are_overlaid_as_returns_and_their_metrics_put_side_by_side(trader):
    a = finished("trend_following", 10_000, 11_000, 1.5)
    b = finished("mean_reversion", 50_000, 45_000, -0.4)
    page = trader.get(f"/backtests/compare/?runs={a.pk}&runs={b.pk}").content.decode()
    curves = json.loads(
        re.search(r'<script id="compare-data" type="application/json">(.*?)</script>', page).group(
            1
        )
    )
    assert [c["id"] for c in curves] == [a.pk, b.pk]
    # Different capital, one scale: percent since each run's start.
    assert [p["value"] for p in curves[0]["points"]] == pytest.approx([0.0, 5.0, 10.0])
    assert [p["value"] for p in curves[1]["points"]] == pytest.approx([0.0, -5.0, -10.0])
    row = re.search(r'<tr data-metric="total_return">(.*?)</tr>', page, re.S).group(1)
    assert "10.00 %" in row and "−10.00 %" in row
    row = re.search(r'<tr data-metric="sharpe">(.*?)</tr>', page, re.S).group(1)
    assert "1.50" in row and "-0.40" in row
    assert f'value="{a.pk}" id="run-{a.pk}" aria-label="Compare run {a.pk}" checked' in page


@pytest.mark.parametrize("count", [1, 6])
def test_fewer_than_two_or_more_than_five_runs_are_refused_saying_so(trader, count):
    runs = [finished(f"s{i}", 1000, 1100, 1.0) for i in range(count)]
    query = "&".join(f"runs={r.pk}" for r in runs)
    page = trader.get(f"/backtests/compare/?{query}").content.decode()
    assert f"Pick 2 to 5 runs (got {count})." in page
    assert "data-compare-chart" not in page


def test_an_unfinished_run_cannot_be_compared(trader):
    done = finished("trend_following", 1000, 1100, 1.0)
    running = BacktestRun.objects.create(
        engine="vectorised",
        strategy="x",
        symbol="BTCUSDT",
        timeframe="1h",
        status=BacktestStatus.RUNNING,
    )
    page = trader.get(f"/backtests/compare/?runs={done.pk}&runs={running.pk}").content.decode()
    assert f"#{running.pk} is running" in page
