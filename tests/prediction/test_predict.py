"""The direction model: its reported accuracy comes only from bars it never trained on."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from prediction.predict import (
    BaselineComparison,
    WalkForward,
    feature_matrix,
    next_bar_up,
    paired_comparison,
    prediction_make,
    verdict,
    walk_forward,
)
from xquant.errors import ValidationError


class SpyModel:
    """Predicts the majority class it saw; remembers which samples it fitted and predicted.
    Column 0 of X is the sample index."""

    log: list[tuple[str, np.ndarray]] = []

    def fit(self, x, y):
        self.majority = int(np.mean(y) >= 0.5)
        SpyModel.log.append(("fit", x[:, 0].astype(int)))
        return self

    def predict(self, x):
        SpyModel.log.append(("predict", x[:, 0].astype(int)))
        return np.full(len(x), self.majority)


def test_every_scored_prediction_comes_from_a_model_fitted_only_on_earlier_bars():
    rng = np.random.default_rng(3)
    n = 1_000
    x = np.column_stack([np.arange(n), rng.normal(size=n)])
    y = rng.integers(0, 2, n)
    SpyModel.log = []
    wf = walk_forward(x, y, folds=4, model_factory=SpyModel)

    calls = SpyModel.log
    assert [kind for kind, _ in calls] == ["fit", "predict"] * 4
    scored = []
    for (_, fitted), (_, predicted) in zip(calls[::2], calls[1::2], strict=True):
        assert fitted.max() < predicted.min()  # strictly in the past
        assert not set(fitted) & set(predicted)
        scored.extend(predicted)
    # The first block is never scored; every later bar is scored exactly once.
    assert sorted(scored) == list(range(200, n))
    assert wf.samples == 800
    # The reported accuracy is recomputable from those out-of-sample predictions alone.
    predictions = np.concatenate([f.predictions for f in wf.folds])
    assert wf.accuracy == pytest.approx(np.mean(predictions == y[scored]))


def test_a_model_that_memorises_its_training_data_scores_chance_out_of_sample():
    # Random labels and a unique feature per bar: a 1-nearest-neighbour model is 100 %
    # right on any bar it trained on and a coin flip elsewhere. Leakage would show.
    rng = np.random.default_rng(5)
    n = 2_000
    x = np.arange(n, dtype=float).reshape(-1, 1)
    y = rng.integers(0, 2, n)
    in_sample = KNeighborsClassifier(n_neighbors=1).fit(x, y).score(x, y)
    wf = walk_forward(x, y, folds=5, model_factory=lambda: KNeighborsClassifier(n_neighbors=1))
    assert in_sample == 1.0
    assert 0.4 < wf.accuracy < 0.6
    assert abs(wf.accuracy - wf.baseline_accuracy) < 2.5 * wf.stderr


def test_paired_standard_error_of_the_difference_matches_the_hand_computation():
    truth = np.array([1, 1, 0, 1, 0, 0, 1, 1, 0, 1])
    model = np.array([1, 0, 0, 1, 0, 1, 1, 1, 0, 0])  # right on 7 of 10
    always_up = np.ones(10, dtype=int)  # right on 6 of 10
    c = paired_comparison("majority", truth, model, always_up)
    # Per bar, model right minus baseline right: 0,-1,1,0,1,0,0,0,1,-1 → mean 0.1;
    # sample variance (5 - 10 * 0.1²) / 9 = 4.9 / 9; stderr sqrt(4.9 / 9 / 10) = 7/30.
    assert (c.accuracy, c.difference) == (pytest.approx(0.6), pytest.approx(0.1))
    assert c.stderr == pytest.approx(7 / 30, rel=1e-12)
    # Not the unpaired binomial error of one accuracy, sqrt(0.6 * 0.4 / 10) = 0.155.
    assert c.stderr != pytest.approx(np.sqrt(0.24 / 10), rel=0.1)


def _evaluation(difference: float, stderr: float) -> WalkForward:
    return WalkForward(
        folds=[],
        accuracy=0.5 + difference,
        samples=100,
        baselines=[
            BaselineComparison("majority", 0.45, 0.05 + difference, 0.01),
            BaselineComparison("persistence", 0.48, 0.02 + difference, 0.01),
            BaselineComparison("anti_persistence", 0.5, difference, stderr),
        ],
    )


def test_edge_is_claimed_only_over_the_best_baseline_at_two_paired_standard_errors():
    at_two = _evaluation(0.1, 0.05)
    assert at_two.best.name == "anti_persistence" and at_two.has_edge
    assert "an edge on these bars" in verdict(at_two)
    # Far ahead of the weaker baselines, but under 2 SE over the best: no edge.
    short = _evaluation(0.099, 0.05)
    assert not short.has_edge
    assert verdict(short).endswith("paired standard errors (±10.0%): no edge.")
    assert "opposite of the last bar's direction 50.0% (+9.9% ± 5.0%)" in verdict(short)


def test_an_anti_persistent_series_is_predicted_by_the_naive_opposite_and_no_edge_is_claimed():
    # Labels alternate: the opposite of the last bar is always right; a majority model
    # is right half the time.
    n = 1_000
    y = np.arange(n) % 2
    x = np.zeros((n, 1))
    wf = walk_forward(x, y, folds=4, model_factory=SpyModel)
    names = [b.name for b in wf.baselines]
    assert names == ["majority", "persistence", "anti_persistence"]
    accuracy = {b.name: b.accuracy for b in wf.baselines}
    assert accuracy["anti_persistence"] == 1.0 and accuracy["persistence"] == 0.0
    assert wf.best.name == "anti_persistence" and not wf.has_edge
    assert verdict(wf).endswith("no edge.")


class Oracle:
    """Predicts column 0 of X, which the test sets to the label itself."""

    def fit(self, x, y):
        return self

    def predict(self, x):
        return x[:, 0].astype(int)


def test_a_model_that_beats_every_baseline_by_far_has_an_edge():
    rng = np.random.default_rng(11)
    y = rng.integers(0, 2, 1_000)
    wf = walk_forward(y.reshape(-1, 1).astype(float), y, folds=4, model_factory=Oracle)
    assert wf.accuracy == 1.0 and wf.has_edge
    assert all(b.difference > 0.4 for b in wf.baselines)


def test_features_at_a_bar_do_not_change_when_later_bars_change(sample_bars):
    from prediction.indicators import OHLCV

    full = feature_matrix(sample_bars)
    cut = 3_000
    truncated = OHLCV(
        *(
            a[:cut]
            for a in (
                sample_bars.open,
                sample_bars.high,
                sample_bars.low,
                sample_bars.close,
                sample_bars.volume,
            )
        )
    )
    np.testing.assert_array_equal(feature_matrix(truncated), full[:cut])


def test_label_is_the_direction_of_the_next_close_and_the_last_bar_has_none():
    np.testing.assert_array_equal(next_bar_up(np.array([1.0, 2, 1, 1])), [1, 0, 0, -1])


@pytest.mark.django_db
@pytest.mark.parametrize("model", ["logistic", "gradient_boosting"])
def test_prediction_reports_direction_probability_and_out_of_sample_accuracy_against_the_baseline(
    model,
):
    result = prediction_make(
        symbol="BTCUSDT", timeframe="15m", params={"model": model, "bars": 2_000, "folds": 4}
    )
    assert result["direction"] in ("up", "down")
    assert 0.5 <= result["probability"] <= 1.0
    assert result["probability_up"] == pytest.approx(
        result["probability"] if result["direction"] == "up" else 1 - result["probability"]
    )
    ev = result["evaluation"]
    baselines = {b["name"]: b for b in ev["baselines"]}
    assert list(baselines) == ["majority", "persistence", "anti_persistence"]
    best = max(ev["baselines"], key=lambda b: b["accuracy"])
    assert ev["baseline"] == best["description"]
    assert ev["baseline_accuracy"] == best["accuracy"]
    # Persistence and its opposite predict opposite classes: exactly one is right per bar.
    assert baselines["persistence"]["accuracy"] + baselines["anti_persistence"][
        "accuracy"
    ] == pytest.approx(1.0, abs=1e-12)
    assert 0.3 < ev["oos_accuracy"] < 0.7 and 0.3 < ev["baseline_accuracy"] < 0.7
    assert ev["edge"] == pytest.approx(ev["oos_accuracy"] - ev["baseline_accuracy"])
    assert ev["has_edge"] == (ev["edge"] > 0 and ev["edge"] >= 2 * ev["edge_stderr"])
    assert result["verdict"].endswith("no edge.") != ev["has_edge"]
    assert ev["oos_samples"] < ev["train_samples"]
    assert (
        f"{ev['oos_accuracy']:.1%}" in result["verdict"]
        and f"{ev['baseline_accuracy']:.1%}" in result["verdict"]
    )
    assert result["as_of"] == "2021-12-29T13:45:00+00:00"  # the last bundled bar


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"model": "oracle"}, 'model: "oracle" is not a valid choice'),
        ({"folds": 1}, "folds: Ensure this value is greater than or equal to 2"),
        ({"bars": 10}, "bars: Ensure this value is greater than or equal to 300"),
    ],
)
def test_prediction_refuses_bad_parameters(params, message):
    with pytest.raises(ValidationError, match=message):
        prediction_make(symbol="BTCUSDT", timeframe="15m", params=params)


@pytest.mark.django_db
def test_prediction_needs_enough_bars():
    with pytest.raises(ValidationError, match="at least 300 are needed"):
        prediction_make(symbol="BTCUSDT", timeframe="1d")
