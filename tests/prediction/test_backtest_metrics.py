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

DAY = 86_400


def test_sharpe_sortino_and_drawdown_of_a_tiny_curve_match_the_hand_computation():
    # Returns +10 %, -10 %, +10 %: mean 1/30, sample std sqrt(0.04/3); yearly bars.
    equity = np.array([100.0, 110.0, 99.0, 108.9])
    m = equity_metrics(equity, times=np.arange(4) * YEAR_SECONDS, initial=100.0)
    assert m["periods_per_year"] == pytest.approx(1.0)
    assert m["sharpe"] == pytest.approx(1 / (2 * math.sqrt(3)))  # (1/30) / sqrt(0.04/3)
    assert m["sortino"] == pytest.approx(1 / math.sqrt(3))  # (1/30) / sqrt(0.01/3)
    assert m["max_drawdown"] == pytest.approx(-0.10)  # 110 → 99
    assert m["max_drawdown_duration_bars"] == 2  # 99 and 108.9 are both below 110
    # From the peak (bar 1) to the last bar, never recovered.
    assert m["max_drawdown_duration_seconds"] == 2 * YEAR_SECONDS
    assert m["total_return"] == pytest.approx(0.089)
    assert m["cagr"] == pytest.approx(1.089 ** (1 / 3) - 1)
    assert m["final_equity"] == pytest.approx(108.9)


def test_annualisation_comes_from_the_bars_own_calendar_and_says_so():
    equity = np.array([100.0, 110.0, 99.0, 108.9, 110.0, 100.0])
    # Daily crypto bars, every day: 5 returns over 5 days → 365 a year.
    crypto = equity_metrics(equity, times=np.arange(6) * DAY, initial=100.0)
    assert crypto["periods_per_year"] == pytest.approx(365)
    assert crypto["annualisation"] == (
        "from the data: 5 returns over 5.00 days = 365 periods per 365-day year"
    )
    # Daily stock bars, Monday to Friday then Monday: 5 returns over 7 days → 365 * 5/7.
    stocks = equity_metrics(equity, times=np.array([0, 1, 2, 3, 4, 7]) * DAY, initial=100.0)
    assert stocks["periods_per_year"] == pytest.approx(365 * 5 / 7)
    assert stocks["sharpe"] / crypto["sharpe"] == pytest.approx(math.sqrt(5 / 7))
    # Stated: the caller's calendar wins and is named.
    stated = equity_metrics(equity, times=np.arange(6) * DAY, initial=100.0, periods_per_year=252)
    assert stated["annualisation"] == "stated: 252 periods per year"
    assert stated["sharpe"] / crypto["sharpe"] == pytest.approx(math.sqrt(252 / 365))


def test_drawdown_duration_is_calendar_time_from_the_peak_to_the_recovery():
    equity = np.array([100.0, 90, 95, 100, 120, 60, 70, 80, 90, 119, 125])
    # Bars 1-2 are under water for a long weekend; bars 5-9 over a few hours.
    hour = 3_600
    times = np.array(
        [0, 1, 2 + 72, 3 + 72, 4 + 72, 5 + 72, 6 + 72, 7 + 72, 8 + 72, 9 + 72, 10 + 72]
    )
    worst, bars, seconds = max_drawdown(equity, times * hour)
    assert worst == pytest.approx(-0.5)  # 120 → 60
    # Peak at bar 0 (t=0 h), back to 100 at bar 3 (t=75 h): 75 hours, the longest,
    # though bars 5-9 are more bars under water (peak bar 4 at 76 h, recovery bar 10
    # at 82 h: 6 hours).
    assert (bars, seconds) == (2, 75 * hour)
    # By bar numbers alone the five-bar stretch is the longest: peak 4 to recovery 10.
    assert max_drawdown(equity)[1:] == (5, 6)


def test_flat_curve_has_no_sharpe_and_no_drawdown():
    m = equity_metrics(np.full(5, 100.0), times=np.arange(5) * 60, initial=100.0)
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
        times=np.arange(8) * 60,
        initial=1.0,
        fees=0.0,
    )
    assert m["exposure"] == 0.25
