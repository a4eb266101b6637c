"""A finished study's summary: best trials, parameter importance, a 2-parameter heatmap
and the overfitting statistics, each JSON-safe for the page and the API."""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from prediction.research import overfitting
from prediction.research.models import Study

logger = logging.getLogger(__name__)

BEST_LISTED = 10
HEATMAP_BINS = 10


def _num(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def trial_row(t: optuna.trial.FrozenTrial) -> dict[str, Any]:
    return {
        "number": t.number,
        "state": t.state.name.lower(),
        "value": _num(t.value) if t.value is not None else None,
        "params": t.params,
        "metrics": t.user_attrs.get("metrics", {}),
        "infeasible": t.user_attrs.get("infeasible", []),
        "reason": t.user_attrs.get("reason", ""),
        "duration": t.duration.total_seconds() if t.duration else None,
    }


def feasible_complete(ostudy: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [
        t
        for t in ostudy.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if not t.user_attrs.get("infeasible") and t.value is not None and math.isfinite(t.value)
    ]


def importance(ostudy: optuna.Study, trials: list) -> dict[str, float]:
    if len(trials) < 3 or len(ostudy.get_trials(deepcopy=False)[0].params or {}) < 1:
        return {}
    try:
        return {
            k: round(float(v), 6)
            for k, v in optuna.importance.get_param_importances(
                ostudy,
                evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0),
                params=None,
            ).items()
        }
    except Exception as exc:  # a single-valued parameter, a constant objective, ...
        logger.info("parameter importance unavailable: %s", exc)
        return {}


def _axis(values: list[Any]) -> tuple[list[Any], list[int]]:
    """(labels, index of each value): distinct values, or bins for many numbers."""
    distinct = sorted(set(values), key=lambda v: (str(type(v)), v))
    if len(distinct) <= HEATMAP_BINS or not all(isinstance(v, int | float) for v in distinct):
        pos = {v: i for i, v in enumerate(distinct)}
        return distinct, [pos[v] for v in values]
    edges = np.linspace(min(distinct), max(distinct), HEATMAP_BINS + 1)
    idx = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, HEATMAP_BINS - 1)
    labels = [f"{edges[i]:.4g}–{edges[i + 1]:.4g}" for i in range(HEATMAP_BINS)]
    return labels, idx.tolist()


def heatmap(trials: list, x: str, y: str) -> dict[str, Any]:
    """Best objective value in each (x, y) cell over the feasible completed trials."""
    rows = [t for t in trials if x in t.params and y in t.params]
    if not rows:
        return {}
    xl, xi = _axis([t.params[x] for t in rows])
    yl, yi = _axis([t.params[y] for t in rows])
    cells: list[list[float | None]] = [[None] * len(xl) for _ in yl]
    for t, i, j in zip(rows, xi, yi, strict=True):
        cur = cells[j][i]
        if cur is None or t.value > cur:
            cells[j][i] = round(float(t.value), 6)
    return {
        "x": x,
        "y": y,
        "x_labels": [str(v) for v in xl],
        "y_labels": [str(v) for v in yl],
        "values": cells,
    }


def returns_matrix(trials: list) -> np.ndarray | None:
    series = [t.user_attrs.get("daily_returns") for t in trials]
    series = [s for s in series if s]
    if not series:
        return None
    length = min(len(s) for s in series)
    return np.array([s[-length:] for s in series], dtype=float).T


def overfitting_stats(trials: list, *, blocks: int = 8) -> dict[str, Any]:
    out: dict[str, Any] = {"basis": "daily returns of the feasible completed trials"}
    m = returns_matrix(trials)
    if m is None or m.shape[1] < 2:
        out["deflated_sharpe"] = None
        out["pbo"] = None
    else:
        dsr = overfitting.deflated_sharpe_of_best(m)
        best = dsr.get("best_column")
        out["deflated_sharpe"] = {k: _num(v) for k, v in dsr.items() if k != "best_column"} | {
            "trial": trials[best].number if best is not None else None
        }
        even_blocks = min(blocks, (m.shape[0] // 2) * 2)
        out["pbo"] = overfitting.pbo_cscv(m, blocks=even_blocks) if even_blocks >= 2 else None
        if out["pbo"]:
            out["pbo"].pop("logits", None)
    dsr_value = (out["deflated_sharpe"] or {}).get("deflated_sharpe")
    out["deflated_sharpe_reading"] = overfitting.dsr_sentence(dsr_value, len(trials))
    out["pbo_reading"] = overfitting.pbo_sentence((out["pbo"] or {}).get("pbo"))
    return out


def best_rows(ranked: list[optuna.trial.FrozenTrial]) -> list[dict[str, Any]]:
    """The best parameter sets, each once: a sampler may draw a set again (TPE does on
    a stepped space once it converges), and a backtest of the same set on the same bars
    scores the same, so a repeat would only push other sets off the list. `trials` says
    how many trials drew the set; the row is the first of them."""
    rows: dict[tuple, dict[str, Any]] = {}
    for t in ranked:
        key = tuple(sorted(t.params.items()))
        if key in rows:
            rows[key]["trials"] += 1
        elif len(rows) < BEST_LISTED:
            rows[key] = trial_row(t) | {"trials": 1}
    return list(rows.values())


def study_results(study: Study, ostudy: optuna.Study) -> dict[str, Any]:
    every = ostudy.get_trials(deepcopy=False)
    feasible = feasible_complete(ostudy)
    ranked = sorted(feasible, key=lambda t: (-t.value, t.number))
    imp = importance(ostudy, feasible)
    names = list(imp) or list(study.space)
    states = {s.name.lower(): 0 for s in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)}
    for t in every:
        if t.state.name.lower() in states:
            states[t.state.name.lower()] += 1
    retried = sum(1 for t in every if t.state == TrialState.FAIL and "reason" not in t.user_attrs)
    return {
        "best": best_rows(ranked),
        "best_params": ranked[0].params if ranked else None,
        "best_value": ranked[0].value if ranked else None,
        "importance": imp,
        "heatmap": heatmap(feasible, names[0], names[1]) if len(names) >= 2 else {},
        "overfitting": overfitting_stats(feasible),
        "states": states,
        "feasible": len(feasible),
        "retried_after_worker_loss": retried,
    }
