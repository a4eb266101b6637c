"""Signal strategies: the vectorised position logic equals the obvious bar-by-bar state
machine, and each strategy's rule does what its description says."""

from __future__ import annotations

import numpy as np
import pytest

from prediction import indicators as ind
from prediction.signals import SIGNAL_STRATEGIES, signal_strategy_build
from prediction.signals.base import combine_sides, state_from_events
from tests.prediction.conftest import synthetic_bars
from xquant.errors import ValidationError


def loop_positions(long_in, long_out, short_in=None, short_out=None):
    """Reference: walk the bars; an entry (re)sets the side, an exit of the held side
    flattens, an entry beats an exit on the same bar, and two opposite entries on one
    bar mean flat."""
    pos, out = 0, []
    for i in range(len(long_in)):
        li, lo = bool(long_in[i]), bool(long_out[i])
        si = bool(short_in[i]) if short_in is not None else False
        so = bool(short_out[i]) if short_out is not None else False
        if pos == 1 and lo and not li:
            pos = 0
        if pos == -1 and so and not si:
            pos = 0
        if li and si:
            pos = 0
        elif li:
            pos = 1
        elif si:
            pos = -1
        out.append(pos)
    return np.array(out)


def test_state_from_events_holds_from_entry_until_exit():
    entries = np.array([0, 1, 0, 0, 1, 0], dtype=bool)
    exits = np.array([1, 0, 0, 1, 0, 1], dtype=bool)
    np.testing.assert_array_equal(state_from_events(entries, exits), [0, 1, 1, 0, 1, 0])


def test_a_short_entry_reverses_a_long_and_exits_only_close_their_own_side():
    li = np.array([0, 1, 0, 0, 0, 0, 0], dtype=bool)
    lo = np.array([0, 0, 0, 0, 0, 1, 0], dtype=bool)
    si = np.array([0, 0, 0, 1, 0, 0, 0], dtype=bool)
    so = np.array([0, 0, 1, 0, 0, 0, 1], dtype=bool)
    # The short exit at bar 2 does not flatten the long; the long exit at 5 leaves the short.
    np.testing.assert_array_equal(combine_sides(li, lo, si, so), [0, 1, 1, -1, -1, -1, 0])


def test_opposite_entries_on_one_bar_leave_the_strategy_flat_until_the_next_entry():
    li = np.array([0, 1, 0, 0, 0, 1], dtype=bool)
    lo = np.array([0, 0, 0, 1, 0, 0], dtype=bool)
    si = np.array([0, 1, 0, 0, 0, 0], dtype=bool)
    so = np.zeros(6, dtype=bool)
    np.testing.assert_array_equal(combine_sides(li, lo, si, so), [0, 0, 0, 0, 0, 1])


@pytest.mark.parametrize("seed", range(5))
def test_vectorised_combination_equals_the_bar_by_bar_state_machine(seed):
    rng = np.random.default_rng(seed)
    n = 2_000
    li, lo, si, so = rng.random((4, n)) < [[0.15], [0.1], [0.15], [0.1]]
    si &= ~li  # the reference breaks simultaneous entries one way; keep them distinct
    np.testing.assert_array_equal(combine_sides(li, lo, si, so), loop_positions(li, lo, si, so))
    np.testing.assert_array_equal(combine_sides(li, lo, None, None), loop_positions(li, lo))


def test_mean_reversion_goes_long_below_oversold_and_exits_at_the_exit_level():
    bars = synthetic_bars(5_000, seed=4)
    s = signal_strategy_build("mean_reversion", {"allow_short": False})
    result = s.compute(bars)
    r = ind.rsi(bars.close, 14)
    expected = loop_positions(r < 30, r >= 50)
    np.testing.assert_array_equal(result.position, expected)
    assert (result.position == 1).any() and not (result.position == -1).any()


def test_bollinger_reversion_and_breakout_mirror_each_other():
    bars = synthetic_bars(5_000, seed=9)
    upper, mid, lower, _, _ = ind.bollinger(bars.close, 20, 2.0)
    c = bars.close
    rev = signal_strategy_build("bollinger", {"mode": "reversion"}).compute(bars).position
    np.testing.assert_array_equal(rev, loop_positions(c < lower, c >= mid, c > upper, c <= mid))
    brk = signal_strategy_build("bollinger", {"mode": "breakout"}).compute(bars).position
    np.testing.assert_array_equal(brk, loop_positions(c > upper, c <= mid, c < lower, c >= mid))


def test_trend_following_state_rule_is_the_sign_of_the_average_gap():
    bars = synthetic_bars(3_000, seed=1)
    result = signal_strategy_build(
        "trend_following", {"ma_type": "ema", "fast": 5, "slow": 20, "rule": "state"}
    ).compute(bars)
    gap = ind.ema(bars.close, 5) - ind.ema(bars.close, 20)
    np.testing.assert_array_equal(result.position, np.nan_to_num(np.sign(gap)).astype(np.int8))


def test_trend_following_cross_rule_waits_for_a_cross_and_holds_through_equal_averages():
    from prediction.signals.strategies import cross_position

    nan = np.nan
    side = np.array([nan, nan, 1, 1, -1, -1, 0, 1, 1, -1])
    # Bar 2 only sets the side (no cross yet); 0 (equal averages) is no event, and the
    # way back up from 0 is an UP event, as in the live Technical class.
    np.testing.assert_array_equal(cross_position(side, True), [0, 0, 0, 0, -1, -1, -1, 1, 1, -1])
    np.testing.assert_array_equal(cross_position(side, False), [0, 0, 0, 0, 0, 0, 0, 1, 1, 0])


def test_trend_following_defaults_to_the_cross_rule_of_the_live_technical_strategy():
    bars = synthetic_bars(3_000, seed=1)
    s = signal_strategy_build("trend_following", {"ma_type": "sma", "fast": 5, "slow": 20})
    assert s.params["rule"] == "cross"
    gap = np.sign(ind.sma(bars.close, 5) - ind.sma(bars.close, 20))
    pos = s.compute(bars).position
    first = int(np.flatnonzero(pos)[0])
    # Nothing before the first cross, though the state rule is in the market from bar 19.
    assert first > 19 and gap[first] != gap[first - 1] and gap[first] == pos[first]


def test_macd_stochrsi_enters_only_on_a_stoch_cross_from_the_extreme_zone_with_the_macd():
    bars = synthetic_bars(20_000, seed=3)
    result = signal_strategy_build("macd_stochrsi").compute(bars)
    x = result.indicators
    entries = np.flatnonzero((result.position[1:] == 1) & (result.position[:-1] != 1)) + 1
    assert len(entries) > 5
    for i in entries:
        assert x["macd_diff"][i] > 0
        assert (
            x["stochrsi_k"][i] > x["stochrsi_d"][i]
            and x["stochrsi_k"][i - 1] <= x["stochrsi_d"][i - 1]
        )
        assert x["stochrsi_k"][i - 1] < 0.2


@pytest.mark.parametrize("name", sorted(SIGNAL_STRATEGIES))
def test_every_strategy_explains_its_latest_bar_with_numbers(name):
    bars = synthetic_bars(500, seed=2)
    s = signal_strategy_build(name)
    result = s.compute(bars)
    reasons = s.reasons(bars, result, len(bars.close) - 1)
    assert reasons and any(ch.isdigit() for ch in " ".join(reasons))
    assert "Warming up" in s.reasons(bars, result, 0)[0]


def test_unknown_strategy_and_bad_parameters_are_refused_with_what_is_allowed():
    with pytest.raises(
        ValidationError, match="Allowed: trend_following, mean_reversion, macd_stochrsi, bollinger"
    ):
        signal_strategy_build("momentum")
    with pytest.raises(
        ValidationError, match=r"stoch_oversold \(0.9\) must be below stoch_overbought \(0.8\)"
    ):
        signal_strategy_build("macd_stochrsi", {"stoch_oversold": 0.9})
    with pytest.raises(ValidationError, match='mode: "squeeze" is not a valid choice'):
        signal_strategy_build("bollinger", {"mode": "squeeze"})
