"""Walk-forward windows, stitching and degradation, with hand-computed expectations."""

from __future__ import annotations

import numpy as np
import pytest

from prediction.backtest.config import backtest_settings
from prediction.research.evaluate import run_params
from prediction.research.models import ResearchStatus
from prediction.research.services.walkforward import walkforward_create, walkforward_run
from prediction.research.walkforward import stitch, summary, window_layout
from prediction.selectors import candle_frame
from tests.research.conftest import TREND_SPACE
from xquant.errors import ValidationError


def test_rolling_windows_hand_computed():
    # 100 bars, 4 windows, 25% out of sample: L = floor(100 / (3 + 4)) = 14 out-of-sample
    # bars per window, 100 - 4 * 14 = 44 in-sample bars.
    assert window_layout(100, windows=4, oos_fraction=0.25, mode="rolling") == [
        (0, 44, 44, 58),
        (14, 58, 58, 72),
        (28, 72, 72, 86),
        (42, 86, 86, 100),
    ]


def test_anchored_windows_start_at_the_first_bar():
    assert window_layout(100, windows=4, oos_fraction=0.25, mode="anchored") == [
        (0, 44, 44, 58),
        (0, 58, 58, 72),
        (0, 72, 72, 86),
        (0, 86, 86, 100),
    ]


def test_too_many_windows_are_refused_with_the_numbers():
    with pytest.raises(ValidationError, match="leave 5 out-of-sample and 21 in-sample bars"):
        window_layout(61, windows=8, oos_fraction=0.25, mode="rolling")


def test_stitching_compounds_the_out_of_sample_returns():
    curve = stitch([np.array([0.10, -0.50]), np.array([1.0])], 100.0)
    assert curve.tolist() == pytest.approx([110.0, 55.0, 110.0])


def test_degradation_and_efficiency():
    out = summary([{"is_value": 2.0, "oos_value": 1.0}, {"is_value": 1.0, "oos_value": -1.0}])
    assert out["mean_is"] == 1.5 and out["mean_oos"] == 0.0
    assert out["degradation"] == 1.5
    assert out["efficiency"] == 0.0
    assert out["windows_positive_oos"] == 1


@pytest.mark.django_db
def test_walkforward_on_bundled_candles_scores_only_out_of_sample_bars(db):
    wf = walkforward_create(
        strategy="trend_following",
        symbol="BTCUSDT",
        timeframe="1h",
        space=TREND_SPACE,
        sampler="grid",
        n_trials=24,
        mode="rolling",
        windows=3,
        oos_fraction=0.25,
        seed=2,
    )
    wf = walkforward_run(walkforward_id=wf.pk)
    assert wf.status == ResearchStatus.FINISHED, wf.error
    rows = wf.results["windows"]
    assert len(rows) == 3
    frame = candle_frame(symbol="BTCUSDT", timeframe="1h")
    layout = window_layout(len(frame), windows=3, oos_fraction=0.25, mode="rolling")
    config = backtest_settings(wf.config)
    product = 1.0
    for row, (is_start, _, oos_start, oos_end) in zip(rows, layout, strict=True):
        assert row["oos_start"] == frame.index[oos_start].isoformat()
        # The chosen parameters traded from the in-sample start; out of sample is the
        # equity from the last in-sample bar to the window's end.
        result = run_params(
            strategy="trend_following",
            frame=frame.iloc[is_start:oos_end],
            params=row["params"],
            settings=config,
            bar_seconds=3600,
            symbol="BTCUSDT",
        )
        eq = result.equity
        expected = eq[-1] / eq[oos_start - is_start - 1] - 1
        assert row["oos_metrics"]["total_return"] == pytest.approx(expected, rel=1e-9)
        product *= 1 + expected
    stitched = wf.results["stitched"]
    assert stitched[0][0] == frame.index[layout[0][2]].isoformat()
    assert stitched[-1][1] == pytest.approx(config.initial_capital * product, rel=1e-7)
    assert wf.results["summary"]["degradation"] == pytest.approx(
        np.mean([r["is_value"] for r in rows]) - np.mean([r["oos_value"] for r in rows])
    )
