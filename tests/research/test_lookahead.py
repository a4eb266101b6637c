"""Look-ahead and warm-up checks: a leaky strategy is caught, the bundled ones pass."""

from __future__ import annotations

import numpy as np
import pytest
from rest_framework import serializers

from prediction.research.lookahead import strategy_check
from prediction.signals import SIGNAL_STRATEGIES
from prediction.signals.base import SignalResult, SignalStrategy


class _NoParams(serializers.Serializer):
    pass


class PeeksAtNextClose(SignalStrategy):
    """Long when the next bar closes higher: a shift(-1) bug."""

    name = "peeks"
    title = description = "leaky"
    params_serializer = _NoParams

    def compute(self, bars):
        nxt = np.r_[bars.close[1:], np.nan]
        pos = (nxt > bars.close).astype(np.int8)
        return SignalResult(pos, {"next_close": nxt}, warmup=0)

    def reasons(self, bars, result, i):
        return []


class RemembersEverything(SignalStrategy):
    """Its indicator is the mean of every close so far: declared warm-up 10 bars, but
    the value depends on all the history before it."""

    name = "remembers"
    title = description = "history-dependent"
    params_serializer = _NoParams

    def compute(self, bars):
        mean = np.cumsum(bars.close) / np.arange(1, len(bars.close) + 1)
        return SignalResult((bars.close > mean).astype(np.int8), {"running_mean": mean}, warmup=10)

    def reasons(self, bars, result, i):
        return []


def test_a_strategy_that_reads_the_next_bar_is_caught(sample_bars):
    report = strategy_check(PeeksAtNextClose(), sample_bars)
    assert not report.lookahead_passed
    # Cut just after bar t, the next close is unknown (NaN): the long signals vanish.
    assert len(report.lookahead) > 50
    first = report.lookahead[0]
    assert first["full"] == 1 and first["truncated"] == 0
    assert "looks ahead" in first["message"]


@pytest.mark.parametrize("name", list(SIGNAL_STRATEGIES))
def test_bundled_strategies_do_not_look_ahead(sample_bars, name):
    report = strategy_check(name, sample_bars)
    assert report.lookahead_passed, report.lookahead[:3]
    assert len(report.bars_checked) >= 100


def test_an_indicator_that_depends_on_all_history_is_flagged(sample_bars):
    report = strategy_check(RemembersEverything(), sample_bars)
    assert report.lookahead_passed
    [flag] = report.warmup
    assert flag["indicator"] == "running_mean"
    assert flag["declared_warmup"] == 10
    assert flag["needed_warmup"] > 1000


@pytest.mark.parametrize(
    ("name", "params"),
    [("bollinger", {}), ("trend_following", {"ma_type": "sma"})],
)
def test_bundled_strategies_with_finite_memory_pass_the_warmup_check(sample_bars, name, params):
    assert strategy_check(name, sample_bars, params=params).passed


def test_exponential_averages_are_flagged_with_the_warmup_they_need(sample_bars):
    # RSI(14) is Wilder's average (alpha 1/14): it forgets its start to 1e-3 after about
    # ln(1000) * 14 = 97 bars, not the 14 the strategy declares.
    report = strategy_check("mean_reversion", sample_bars)
    assert report.lookahead_passed
    [flag] = report.warmup
    assert flag["indicator"] == "rsi" and flag["declared_warmup"] == 14
    assert 40 < flag["needed_warmup"] <= 120
