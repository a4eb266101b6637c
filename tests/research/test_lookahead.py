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


class ShortEmaWarmup(SignalStrategy):
    """An EMA(50) cross declared warm after 50 bars, as the bundled trend strategy once
    was: the average still remembers its seed for a hundred bars more."""

    name = "short_warmup"
    title = description = "EMA with its window as warm-up"
    params_serializer = _NoParams

    def compute(self, bars):
        from prediction import indicators as ind

        slow = ind.ema(bars.close, 50)
        return SignalResult((bars.close > slow).astype(np.int8), {"ema_slow": slow}, warmup=50)

    def reasons(self, bars, result, i):
        return []


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("bollinger", {}),
        ("trend_following", {"ma_type": "sma"}),
        ("trend_following", {"ma_type": "ema"}),
        ("mean_reversion", {}),
        ("macd_stochrsi", {}),
    ],
)
def test_bundled_strategies_pass_the_warmup_check(sample_bars, name, params):
    report = strategy_check(name, sample_bars, params=params)
    assert report.passed, report.warmup


def test_an_exponential_average_declared_warm_too_soon_is_flagged(sample_bars):
    # EMA(50): alpha 2/51, it forgets its seed to 1e-3 of the price after about
    # ln(1000) / 0.04 = 173 bars at worst; on these candles about twice the 50 declared.
    report = strategy_check(ShortEmaWarmup(), sample_bars)
    assert report.lookahead_passed
    [flag] = report.warmup
    assert flag["indicator"] == "ema_slow" and flag["declared_warmup"] == 50
    assert 60 < flag["needed_warmup"] <= 173


def test_the_declared_warmups_are_the_settling_times_of_the_averages():
    from prediction import indicators as ind

    # (1 - 2/51) ** 173 <= 1e-3 < (1 - 2/51) ** 172; Wilder's RSI(14): (13/14) ** 94.
    assert ind.ema_warmup(50) == 173
    assert (1 - 2 / 51) ** 172 > 1e-3 >= (1 - 2 / 51) ** 173
    assert ind.wilder_warmup(14) == 94
    assert ind.ema_warmup(3) == 10 and ind.ema_warmup(1) == 1
