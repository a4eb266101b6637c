"""The vectorised engine on bars small enough to compute by hand."""

from __future__ import annotations

import numpy as np
import pytest

from prediction.backtest.config import backtest_settings
from prediction.backtest.vectorised import run_vectorised
from xquant.errors import ValidationError

OPEN = np.array([100.0, 101, 102, 103, 104])
CLOSE = np.array([100.5, 101.5, 102.5, 103.5, 104.5])
TIMES = np.arange(5) * 60
# Decided at each close: long, long, flat, short, short → held from the next open.
TARGET = np.array([1, 1, 0, -1, -1], dtype=np.int8)


def run(**settings):
    return run_vectorised(
        open_=OPEN,
        close=CLOSE,
        times=TIMES,
        target=TARGET,
        settings=backtest_settings(settings),
        bar_seconds=60,
    )


def test_signals_fill_at_the_next_bar_open_and_the_last_decision_is_never_filled():
    r = run(sizing="fixed", quantity=1, fee_rate=0)
    np.testing.assert_array_equal(r.held, [0, 1, 1, 0, -1])
    t = r.trades
    np.testing.assert_array_equal(t.entry_bar, [1, 4])
    np.testing.assert_array_equal(t.exit_bar, [3, -1])  # the short is still open
    np.testing.assert_allclose(t.entry_price, [101, 104])
    np.testing.assert_allclose(t.exit_price[:1], [103])
    assert np.isnan(t.exit_price[1])


def test_fixed_quantity_equity_pays_fees_on_both_fills_and_marks_open_trades_to_the_close():
    r = run(sizing="fixed", quantity=1, fee_rate=0.001, initial_capital=1000)
    # Long 101 → 103 pays 0.101 + 0.103; the open short pays 0.104 at entry only.
    np.testing.assert_allclose(r.equity, [1000, 1000.399, 1001.399, 1001.796, 1001.192])
    np.testing.assert_allclose(r.trades.pnl, [1.796, -0.5 - 0.104])
    assert r.metrics["trade_count"] == 1  # closed trades only
    assert r.metrics["fees"] == pytest.approx(0.101 + 0.103 + 0.104)
    assert r.metrics["exposure"] == pytest.approx(3 / 5)


def test_fraction_sizing_compounds_equity_across_long_and_short_trades():
    r = run(sizing="fraction", fraction=1, fee_rate=0, initial_capital=1000)
    after_long = 1000 * 103 / 101
    np.testing.assert_allclose(r.trades.units, [1000 / 101, after_long / 104])
    np.testing.assert_allclose(r.equity[3], after_long)
    np.testing.assert_allclose(r.equity[4], after_long * (1 - (104.5 / 104 - 1)))


def test_fraction_sizing_with_fees_matches_the_cash_and_units_bookkeeping():
    fee, f = 0.001, 0.5
    r = run(sizing="fraction", fraction=f, fee_rate=fee, initial_capital=1000, fee_inside=False)
    units = f * 1000 / 101
    cash = 1000 - units * 101 - fee * units * 101
    np.testing.assert_allclose(r.equity[1], cash + units * 101.5)
    cash += units * 103 - fee * units * 103
    np.testing.assert_allclose(r.equity[3], cash)
    short_units = f * cash / 104
    np.testing.assert_allclose(r.trades.units[1], short_units)
    np.testing.assert_allclose(
        r.equity[4], cash - fee * short_units * 104 - short_units * (104.5 - 104)
    )


def test_all_in_fraction_sizing_pays_the_fee_out_of_the_committed_cash_by_default():
    fee = 0.001
    r = run(sizing="fraction", fraction=1, fee_rate=fee, initial_capital=1000)
    units = 1000 / (101 * (1 + fee))
    # Notional plus fee is the whole equity: no cash left, none borrowed.
    assert units * 101 + fee * units * 101 == pytest.approx(1000, rel=1e-15)
    np.testing.assert_allclose(r.trades.units[0], units, rtol=1e-15)
    np.testing.assert_allclose(r.equity[1], units * 101.5, rtol=1e-12)
    cash = units * 103 * (1 - fee)
    np.testing.assert_allclose(r.equity[3], cash, rtol=1e-12)
    np.testing.assert_allclose(r.trades.units[1], cash / (104 * (1 + fee)), rtol=1e-12)


def test_vectorised_engine_refuses_strategy_sizing_signals_have_no_quantity():
    with pytest.raises(ValidationError, match="Sizing 'strategy' needs"):
        run(sizing="strategy")


def test_slippage_moves_every_fill_against_the_trader():
    r = run(sizing="fixed", quantity=1, fee_rate=0, slippage_bps=10)
    np.testing.assert_allclose(
        r.trades.entry_price, [101 * 1.001, 104 * 0.999]
    )  # buy up, sell down
    np.testing.assert_allclose(r.trades.exit_price[:1], [103 * 0.999])  # the long's exit is a sell


def test_reversal_closes_and_opens_at_the_same_open():
    target = np.array([1, -1, -1, 0, 0], dtype=np.int8)
    r = run_vectorised(
        open_=OPEN,
        close=CLOSE,
        times=TIMES,
        target=target,
        settings=backtest_settings({"sizing": "fixed", "fee_rate": 0}),
        bar_seconds=60,
    )
    np.testing.assert_array_equal(r.trades.entry_bar, [1, 2])
    np.testing.assert_array_equal(r.trades.exit_bar, [2, 4])
    np.testing.assert_allclose(r.trades.pnl, [102 - 101, 102 - 104])


def test_settings_out_of_range_are_refused_with_what_is_allowed():
    with pytest.raises(
        ValidationError, match=r"fee_rate: Ensure this value is less than or equal to 0.05"
    ):
        backtest_settings({"fee_rate": 0.5})
    with pytest.raises(ValidationError, match="sizing"):
        backtest_settings({"sizing": "kelly"})
