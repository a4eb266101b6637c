"""Walk-forward analysis: optimise on each window's in-sample part, trade the chosen
parameters on the out-of-sample part that follows, stitch the out-of-sample equity.

Windows (n bars, k windows, out-of-sample share f of a window):
- every out-of-sample part has L = floor(n / ((1 - f) / f + k)) bars and they follow one
  another to the end of the data (the first bars left over go to the first in-sample);
- rolling: each in-sample part is the n - k L bars just before its out-of-sample part;
- anchored: each in-sample part starts at the first bar (it grows window by window).
Each in-sample optimisation is an in-memory optuna study of `n_trials` trials with the
study's sampler, objective and constraints (windows run one after another in one
process: a walk-forward is one Celery task, or the command's own process). The chosen
parameters are then backtested from the in-sample start to the out-of-sample end, so
indicators are warmed up on data that precedes the out-of-sample part, and only the
out-of-sample bars are scored: their per-bar returns, compounded from the initial
capital window after window, are the stitched out-of-sample curve.
Degradation = mean in-sample objective - mean out-of-sample objective; efficiency =
their ratio (out / in), the usual walk-forward efficiency.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import optuna
import pandas as pd

from prediction.backtest.config import BacktestSettings
from prediction.backtest.metrics import equity_metrics
from prediction.research.evaluate import evaluate, objective_value, run_params
from prediction.research.models import Sampler
from prediction.research.services.trials import BudgetGridSampler
from prediction.research.space import Space, strategy_params_check
from prediction.selectors import frame_times
from prediction.timeframes import timeframe_seconds
from xquant.errors import ValidationError

logger = logging.getLogger(__name__)

MODES = ("rolling", "anchored")
#: Fewest bars an in-sample or out-of-sample part may have.
MIN_PART_BARS = 10


def window_layout(
    n: int, *, windows: int, oos_fraction: float, mode: str
) -> list[tuple[int, int, int, int]]:
    """[(is_start, is_end, oos_start, oos_end), ...] as bar indices, ends exclusive."""
    if mode not in MODES:
        raise ValidationError(
            f"Unknown mode {mode!r}. Allowed: rolling, anchored.",
            extra={"fields": {"mode": ["Allowed: rolling, anchored."]}},
        )
    if not 0 < oos_fraction < 1:
        raise ValidationError(
            "oos_fraction is the out-of-sample share of a window, strictly between 0 and 1.",
            extra={"fields": {"oos_fraction": ["Between 0 and 1."]}},
        )
    if not 1 <= windows <= 50:
        raise ValidationError(
            "windows must be from 1 to 50.", extra={"fields": {"windows": ["1 to 50."]}}
        )
    oos = int(n // ((1 - oos_fraction) / oos_fraction + windows))
    ins = n - windows * oos
    if oos < MIN_PART_BARS or ins < MIN_PART_BARS:
        raise ValidationError(
            f"{n} bars cut into {windows} windows leave {oos} out-of-sample and {ins} "
            f"in-sample bars; each needs at least {MIN_PART_BARS}. Use fewer windows, a "
            "longer range or a shorter timeframe.",
            extra={"fields": {"windows": ["Too many windows for the data."]}},
        )
    out = []
    for k in range(windows):
        oos_start = ins + k * oos
        is_start = 0 if mode == "anchored" else oos_start - ins
        out.append((is_start, oos_start, oos_start, oos_start + oos))
    return out


def stitch(segments: list[np.ndarray], initial: float) -> np.ndarray:
    """Compound consecutive out-of-sample per-bar return segments from `initial`."""
    if not segments:
        return np.zeros(0)
    returns = np.concatenate(segments)
    return initial * np.cumprod(1.0 + returns)


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ins = [r["is_value"] for r in rows if r.get("is_value") is not None]
    oos = [r["oos_value"] for r in rows if r.get("oos_value") is not None]
    mean_is = float(np.mean(ins)) if ins else None
    mean_oos = float(np.mean(oos)) if oos else None
    return {
        "mean_is": mean_is,
        "mean_oos": mean_oos,
        "degradation": mean_is - mean_oos if ins and oos else None,
        "efficiency": mean_oos / mean_is if ins and oos and mean_is else None,
        "windows_positive_oos": sum(1 for v in oos if v > 0),
    }


def _optimise(
    *,
    space: Space,
    sampler: str,
    n_trials: int,
    seed: int | None,
    score: Callable[[dict[str, Any]], tuple[float | None, list[str]]],
) -> tuple[dict[str, Any] | None, float | None]:
    """(best feasible params, its value) of an in-memory study."""
    if sampler == Sampler.GRID:
        opt_sampler = BudgetGridSampler(space.grid(), seed=seed or 0)
        n_trials = min(n_trials, space.grid_size())
    elif sampler == Sampler.RANDOM:
        opt_sampler = optuna.samplers.RandomSampler(seed=seed)
    else:
        opt_sampler = optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=min(10, max(1, n_trials // 5))
        )
    ostudy = optuna.create_study(direction="maximize", sampler=opt_sampler)
    best: tuple[dict[str, Any] | None, float | None] = (None, None)
    for _ in range(n_trials):
        trial = ostudy.ask()
        params = space.suggest(trial)
        try:
            strategy_params_check(space.strategy, params)
            value, violations = score(params)
        except ValidationError:
            ostudy.tell(trial, state=optuna.trial.TrialState.FAIL)
            continue
        if value is None:
            ostudy.tell(trial, state=optuna.trial.TrialState.FAIL)
            continue
        ostudy.tell(trial, value)
        if not violations and (best[1] is None or value > best[1]):
            best = (params, value)
    return best


def _segment_metrics(
    equity: np.ndarray, times: np.ndarray, start: int, end: int, config: BacktestSettings
) -> tuple[np.ndarray, dict[str, Any]]:
    """Per-bar returns of bars [start, end) (the first against the bar before) and the
    metrics of that stretch as its own equity curve."""
    base = equity[start - 1] if start > 0 else config.initial_capital
    segment = equity[start:end]
    returns = segment / np.r_[base, segment[:-1]] - 1.0
    curve = config.initial_capital * np.cumprod(1.0 + returns)
    metrics = equity_metrics(
        curve,
        times=times[start:end],
        initial=config.initial_capital,
        periods_per_year=config.periods_per_year,
    )
    return returns, metrics


def walkforward_analyse(
    *,
    frame: pd.DataFrame,
    strategy: str,
    symbol: str,
    timeframe: str,
    space: Space,
    config: BacktestSettings,
    objective: str,
    constraints: dict[str, Any],
    sampler: str,
    n_trials: int,
    seed: int | None,
    mode: str,
    windows: int,
    oos_fraction: float,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    bar_seconds = timeframe_seconds(timeframe)
    layout = window_layout(len(frame), windows=windows, oos_fraction=oos_fraction, mode=mode)
    times = frame_times(frame)
    rows, segments, stitched_index = [], [], []
    for k, (is_start, is_end, oos_start, oos_end) in enumerate(layout):
        ins = frame.iloc[is_start:is_end]

        def score(params: dict[str, Any], ins=ins) -> tuple[float | None, list[str]]:
            ev = evaluate(
                strategy=strategy,
                frame=ins,
                params=params,
                settings=config,
                bar_seconds=bar_seconds,
                symbol=symbol,
                objective=objective,
                constraints=constraints,
            )
            return ev.value, ev.violations

        params, is_value = _optimise(
            space=space,
            sampler=sampler,
            n_trials=n_trials,
            seed=None if seed is None else seed + k,
            score=score,
        )
        row: dict[str, Any] = {
            "window": k + 1,
            "is_start": frame.index[is_start].isoformat(),
            "is_end": frame.index[is_end - 1].isoformat(),
            "oos_start": frame.index[oos_start].isoformat(),
            "oos_end": frame.index[oos_end - 1].isoformat(),
            "params": params,
            "is_value": is_value,
            "oos_value": None,
            "oos_metrics": {},
        }
        if params is None:
            # Nothing feasible in sample: the out-of-sample part stays flat.
            returns = np.zeros(oos_end - oos_start)
        else:
            span = frame.iloc[is_start:oos_end]
            result = run_params(
                strategy=strategy,
                frame=span,
                params=params,
                settings=config,
                bar_seconds=bar_seconds,
                symbol=symbol,
            )
            returns, metrics = _segment_metrics(
                result.equity,
                times[is_start:oos_end],
                oos_start - is_start,
                oos_end - is_start,
                config,
            )
            row["oos_value"] = objective_value(metrics, objective)
            row["oos_metrics"] = {
                k2: metrics.get(k2) for k2 in ("total_return", "sharpe", "max_drawdown")
            }
        rows.append(row)
        segments.append(returns)
        stitched_index.extend(frame.index[oos_start:oos_end])
        if progress:
            progress(k + 1, len(layout))
    curve = stitch(segments, config.initial_capital)
    picks = (
        np.unique(
            np.r_[np.linspace(0, len(curve) - 1, min(2000, len(curve))).astype(int), len(curve) - 1]
        )
        if len(curve)
        else []
    )
    stitched = [[stitched_index[i].isoformat(), round(float(curve[i]), 8)] for i in picks]
    stitched_metrics = (
        equity_metrics(
            curve,
            times=np.array([t.value // 10**9 for t in stitched_index], dtype=np.int64),
            initial=config.initial_capital,
            periods_per_year=config.periods_per_year,
        )
        if len(curve)
        else {}
    )
    return {
        "windows": rows,
        "stitched": stitched,
        "stitched_metrics": {
            k: v for k, v in stitched_metrics.items() if isinstance(v, int | float) or v is None
        },
        "summary": summary(rows),
    }
