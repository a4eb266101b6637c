"""A small, honest direction model: will the next bar close higher?

Features are indicator values at each bar's close (nothing from later bars); the label
is whether the next close is higher. Evaluation is walk-forward: the labelled bars are
cut into consecutive blocks, and each block is predicted by a model trained only on the
blocks before it. Out-of-sample accuracy is reported next to every naive baseline on
the same bars (the training window's majority class, the last bar's direction, its
opposite), each with the paired standard error of the difference; an edge is claimed
only over the best baseline and only at two paired standard errors or more, so nobody
reads an edge into noise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from rest_framework import serializers
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from prediction.indicators import OHLCV, indicator_params, indicators_compute, validate_serializer
from prediction.selectors import candle_frame
from xquant.errors import ValidationError

FEATURES = (
    "ret_1",
    "ret_3",
    "ret_12",
    "rsi",
    "macd_diff_rel",
    "bb_percent",
    "bb_width",
    "stochrsi_k",
    "atr_rel",
    "ema_gap",
    "roc",
    "williams_r",
)
MODELS = ("logistic", "gradient_boosting")
MIN_SAMPLES = 200


class PredictParams(serializers.Serializer):
    model = serializers.ChoiceField(choices=MODELS, default="logistic")
    folds = serializers.IntegerField(min_value=2, max_value=20, default=5)
    bars = serializers.IntegerField(
        min_value=MIN_SAMPLES + 100,
        max_value=50_000,
        default=3_000,
        help_text="Most recent bars used.",
    )


def predict_params(data: dict[str, Any] | None) -> dict[str, Any]:
    return validate_serializer(PredictParams, data or {}, "prediction parameters")


def feature_matrix(bars: OHLCV) -> np.ndarray:
    """One row per bar, from that bar's close and earlier only (NaN during warm-up)."""
    ind = indicators_compute(bars, indicator_params({}))
    c = bars.close

    def ret(k: int) -> np.ndarray:
        out = np.full(len(c), np.nan)
        out[k:] = c[k:] / c[:-k] - 1.0
        return out

    cols = {
        "ret_1": ret(1),
        "ret_3": ret(3),
        "ret_12": ret(12),
        "rsi": ind["rsi"] / 100.0,
        "macd_diff_rel": ind["macd_diff"] / c,
        "bb_percent": ind["bb_percent"],
        "bb_width": ind["bb_width"] / 100.0,
        "stochrsi_k": ind["stochrsi_k"],
        "atr_rel": ind["atr"] / c,
        "ema_gap": ind["ema_fast"] / ind["ema_slow"] - 1.0,
        "roc": ind["roc"] / 100.0,
        "williams_r": ind["williams_r"] / 100.0,
    }
    return np.column_stack([cols[name] for name in FEATURES])


def next_bar_up(close: np.ndarray) -> np.ndarray:
    """Label of bar t: 1 if close[t+1] > close[t]; the last bar has none (-1)."""
    y = np.full(len(close), -1, dtype=np.int8)
    y[:-1] = (close[1:] > close[:-1]).astype(np.int8)
    return y


def make_model(name: str):
    if name == "gradient_boosting":
        return HistGradientBoostingClassifier(
            max_iter=60, max_depth=3, learning_rate=0.05, random_state=0
        )
    return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=1_000))


@dataclass(slots=True)
class Fold:
    train: np.ndarray  # sample indices the model was fitted on
    test: np.ndarray  # sample indices it predicted, all later than every training index
    predictions: np.ndarray
    baseline: int  # majority class of the training labels


#: The naive forecasts a model must beat: name → what it predicts.
BASELINES = {
    "majority": "always the majority class of the training window",
    "persistence": "the last bar's direction again",
    "anti_persistence": "the opposite of the last bar's direction",
}
#: An edge is claimed only this many paired standard errors above the best baseline.
EDGE_Z = 2.0


@dataclass(frozen=True, slots=True)
class BaselineComparison:
    name: str
    accuracy: float
    #: Model accuracy minus this baseline's, on the same bars.
    difference: float
    #: Standard error of that difference, paired bar by bar: the standard deviation of
    #: (model right) - (baseline right) over the bars, / sqrt(bars).
    stderr: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": BASELINES[self.name],
            "accuracy": self.accuracy,
            "difference": self.difference,
            "paired_stderr": self.stderr,
        }


def paired_comparison(
    name: str, truth: np.ndarray, model: np.ndarray, baseline: np.ndarray
) -> BaselineComparison:
    model_right = (model == truth).astype(np.float64)
    base_right = (baseline == truth).astype(np.float64)
    d = model_right - base_right
    n = len(d)
    stderr = float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return BaselineComparison(name, float(base_right.mean()), float(d.mean()), stderr)


@dataclass(slots=True)
class WalkForward:
    folds: list[Fold]
    accuracy: float
    samples: int
    #: One per BASELINES entry, in that order.
    baselines: list[BaselineComparison]

    @property
    def best(self) -> BaselineComparison:
        """The most accurate baseline (the first on a tie)."""
        return max(self.baselines, key=lambda b: b.accuracy)

    @property
    def has_edge(self) -> bool:
        best = self.best
        return best.difference > 0 and best.difference >= EDGE_Z * best.stderr

    # The best baseline's figures, under the names the API has always used.
    @property
    def baseline_accuracy(self) -> float:
        return self.best.accuracy

    @property
    def stderr(self) -> float:
        return self.best.stderr


def walk_forward(
    x: np.ndarray,
    y: np.ndarray,
    *,
    folds: int,
    model_factory: Callable[[], Any],
    last_up: np.ndarray | None = None,
) -> WalkForward:
    """Expanding-window evaluation: block k+1 is predicted by a model fitted on blocks
    0..k. The first block is only ever trained on. `last_up[i]` (1 when sample i's bar
    closed above the bar before it) feeds the persistence baselines; without it they
    are taken from the previous sample's label, which is the same thing for
    consecutive bars."""
    n = len(y)
    if last_up is None:
        last_up = np.r_[0, y[:-1]].astype(np.int8)
    edges = np.linspace(0, n, folds + 2).astype(np.int64)
    out: list[Fold] = []
    for k in range(1, folds + 1):
        train = np.arange(0, edges[k])
        test = np.arange(edges[k], edges[k + 1])
        model = model_factory()
        model.fit(x[train], y[train])
        predictions = np.asarray(model.predict(x[test]))
        majority = int(np.mean(y[train]) >= 0.5)
        out.append(Fold(train, test, predictions, majority))
    tested = np.concatenate([f.test for f in out])
    predicted = np.concatenate([f.predictions for f in out])
    truth = y[tested]
    naive = {
        "majority": np.concatenate([np.full(len(f.test), f.baseline) for f in out]),
        "persistence": last_up[tested],
        "anti_persistence": 1 - last_up[tested],
    }
    return WalkForward(
        folds=out,
        accuracy=float(np.mean(predicted == truth)),
        samples=len(tested),
        baselines=[paired_comparison(name, truth, predicted, naive[name]) for name in BASELINES],
    )


def verdict(wf: WalkForward) -> str:
    best = wf.best
    listed = ", ".join(
        f"{BASELINES[b.name]} {b.accuracy:.1%} ({b.difference:+.1%} ± {b.stderr:.1%})"
        for b in wf.baselines
    )
    head = (
        f"Out-of-sample accuracy {wf.accuracy:.1%} on {wf.samples:,} bars the model never "
        f"trained on. Naive baselines on the same bars (model minus baseline ± paired "
        f"standard error): {listed}. The best is {BASELINES[best.name]} at {best.accuracy:.1%}."
    )
    if wf.has_edge:
        return (
            head + f" The model beats it by {best.difference:.1%}, at least {EDGE_Z:g} paired "
            "standard errors: an edge on these bars, past performance only."
        )
    if best.difference < 0 and -best.difference >= EDGE_Z * best.stderr:
        return head + f" The model does worse than it by {-best.difference:.1%}: no edge."
    return (
        head + f" The difference ({best.difference:+.1%}) is under {EDGE_Z:g} paired standard "
        f"errors (±{EDGE_Z * best.stderr:.1%}): no edge."
    )


def prediction_make(
    *, symbol: str, timeframe: str, params: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Direction and probability for the bar after the last stored one, with the
    walk-forward evidence for (or against) trusting it."""
    p = predict_params(params)
    frame = candle_frame(
        symbol=symbol, timeframe=timeframe, limit=p["bars"], min_bars=MIN_SAMPLES + 100
    )
    bars = OHLCV.from_frame(frame)
    x_all = feature_matrix(bars)
    y_all = next_bar_up(bars.close)
    valid = ~np.isnan(x_all).any(axis=1)
    labelled = valid & (y_all >= 0)
    x, y = x_all[labelled], y_all[labelled]
    close = bars.close
    last_up_all = np.zeros(len(close), dtype=np.int8)
    last_up_all[1:] = close[1:] > close[:-1]
    last_up = last_up_all[labelled]
    if len(y) < MIN_SAMPLES:
        raise ValidationError(
            f"Only {len(y)} {timeframe} bars of {symbol} have every feature and a next bar; "
            f"at least {MIN_SAMPLES} are needed. Ask for more bars or a shorter timeframe.",
            extra={"fields": {"bars": [f"At least {MIN_SAMPLES} usable bars are needed."]}},
        )
    if not valid[-1]:
        raise ValidationError(f"The latest {timeframe} bar of {symbol} lacks indicator values.")
    wf = walk_forward(
        x, y, folds=p["folds"], model_factory=lambda: make_model(p["model"]), last_up=last_up
    )
    final = make_model(p["model"])
    final.fit(x, y)
    prob_up = float(final.predict_proba(x_all[-1:])[0][list(final.classes_).index(1)])
    direction = "up" if prob_up >= 0.5 else "down"
    return {
        "symbol": symbol,
        "timeframe": timeframe,
        "model": p["model"],
        "as_of": frame.index[-1].isoformat(),
        "horizon": f"the {timeframe} bar after {frame.index[-1].isoformat()}",
        "direction": direction,
        "probability_up": prob_up,
        "probability": prob_up if direction == "up" else 1.0 - prob_up,
        "features": list(FEATURES),
        "evaluation": {
            "method": "walk-forward, expanding window",
            "folds": p["folds"],
            "train_samples": len(y),
            "oos_samples": wf.samples,
            "oos_accuracy": wf.accuracy,
            # The best naive baseline, and the model's difference from it.
            "baseline": BASELINES[wf.best.name],
            "baseline_accuracy": wf.best.accuracy,
            "edge": wf.best.difference,
            "edge_stderr": wf.best.stderr,
            "has_edge": wf.has_edge,
            "baselines": [b.as_dict() for b in wf.baselines],
        },
        "verdict": verdict(wf),
    }
