"""Metrics on hand-computed equity curves."""

from __future__ import annotations

import math

import numpy as np
import pytest

from prediction.backtest.metrics import (
    YEAR_SECONDS,
    all_metrics,
    equity_metrics,
    max_drawdown,
    trade_metrics,
)


def test_sharpe_sortino_and_drawdown_of_a_tiny_curve_match_the_hand_computation():
    # Returns +10 %, -10 %, +10 %: mean 1/30, sample std sqrt(0.04/3).
    equity = np.array([100.0, 110.0, 99.0, 108.9])
    m = equity_metrics(
        equity, bar_seconds=YEAR_SECONDS, span_seconds=3 * YEAR_SECONDS, initial=100.0
    )
    assert m["sharpe"] == pytest.approx(1 / (2 * math.sqrt(3)))  # (1/30) / sqrt(0.04/3)
    assert m["sortino"] == pytest.approx(1 / math.sqrt(3))  # (1/30) / sqrt(0.01/3)
    assert m["max_drawdown"] == pytest.approx(-0.10)  # 110 → 99
    assert m["max_drawdown_duration_bars"] == 2  # 99 and 108.9 are both below 110
    assert m["max_drawdown_duration_seconds"] == 2 * YEAR_SECONDS
    assert m["total_return"] == pytest.approx(0.089)
    assert m["cagr"] == pytest.approx(1.089 ** (1 / 3) - 1)
    assert m["final_equity"] == pytest.approx(108.9)


def test_sharpe_is_annualised_by_the_number_of_bars_in_a_365_day_year():
    equity = np.array([100.0, 110.0, 99.0, 108.9])
    daily = equity_metrics(equity, bar_seconds=86_400, span_seconds=3 * 86_400, initial=100.0)
    assert daily["sharpe"] == pytest.approx(1 / (2 * math.sqrt(3)) * math.sqrt(365))


def test_drawdown_duration_is_the_longest_underwater_run_and_recovery_ends_it():
    equity = np.array([100.0, 90, 95, 100, 120, 60, 70, 80, 90, 119, 125])
    worst, bars = max_drawdown(equity)
    assert worst == pytest.approx(-0.5)  # 120 → 60
    assert bars == 5  # 60, 70, 80, 90, 119


def test_flat_curve_has_no_sharpe_and_no_drawdown():
    m = equity_metrics(np.full(5, 100.0), bar_seconds=60, span_seconds=240, initial=100.0)
    assert m["sharpe"] is None and m["sortino"] is None
    assert m["max_drawdown"] == 0 and m["max_drawdown_duration_bars"] == 0
    assert m["total_return"] == 0


def test_trade_statistics_from_net_trade_pnl():
    m = trade_metrics(np.array([30.0, -10.0, 20.0, -20.0]))
    assert m["trade_count"] == 4
    assert m["win_rate"] == 0.5
    assert m["profit_factor"] == pytest.approx(50 / 30)
    assert m["expectancy"] == pytest.approx(5.0)


def test_profit_factor_without_a_losing_trade_is_null_not_infinite():
    assert trade_metrics(np.array([5.0]))["profit_factor"] is None
    assert trade_metrics(np.array([]))["win_rate"] is None


def test_exposure_is_the_share_of_bars_in_a_position():
    m = all_metrics(
        equity=np.full(8, 1.0),
        trade_pnl=np.zeros(0),
        exposure_bars=2,
        bar_seconds=60,
        span_seconds=420,
        initial=1.0,
        fees=0.0,
    )
    assert m["exposure"] == 0.25
