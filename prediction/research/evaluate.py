"""One parameter set through the existing engines, scored by a study's objective.

Signal strategies go through the vectorised engine, the live trading classes through
the event-driven one (prediction.backtest.runner), exactly as a single backtest does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from prediction.backtest.config import BacktestSettings
from prediction.backtest.runner import (
    run_signal_backtest,
    run_strategy_backtest,
    trading_strategy_build,
)
from prediction.backtest.vectorised import BacktestResult
from prediction.models import BacktestEngine
from prediction.signals import SIGNAL_STRATEGIES

OBJECTIVES = ("sharpe", "sortino", "total_return", "calmar", "profit_factor")


def engine_for(strategy: str) -> str:
    return (
        BacktestEngine.VECTORISED if strategy in SIGNAL_STRATEGIES else BacktestEngine.EVENT_DRIVEN
    )


def objective_value(metrics: dict[str, Any], objective: str) -> float | None:
    """The objective from a run's metrics; None when it is undefined (no returns, no
    losing trade for a profit factor, no drawdown for Calmar)."""
    if objective == "calmar":
        cagr, mdd = metrics.get("cagr"), metrics.get("max_drawdown")
        value = cagr / abs(mdd) if cagr is not None and mdd else None
    else:
        value = metrics.get(objective)
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def constraint_violations(metrics: dict[str, Any], constraints: dict[str, Any]) -> list[str]:
    """Why a run is infeasible, one sentence per broken constraint (empty: feasible)."""
    out = []
    min_trades = constraints.get("min_trades")
    if min_trades is not None and metrics.get("trade_count", 0) < min_trades:
        out.append(f"{metrics.get('trade_count', 0)} trades, fewer than the {min_trades} asked.")
    max_dd = constraints.get("max_drawdown")
    if max_dd is not None and abs(metrics.get("max_drawdown", 0.0)) > max_dd:
        out.append(
            f"max drawdown {abs(metrics['max_drawdown']):.1%} is deeper than the {max_dd:.1%} "
            "allowed."
        )
    return out


def daily_returns(equity: np.ndarray, index: pd.DatetimeIndex) -> np.ndarray:
    """Compounded return of each UTC day of the equity curve (from the previous day's
    last mark; the first day from its first mark)."""
    if len(equity) == 0:
        return np.zeros(0)
    last = pd.Series(equity, index=index).groupby(index.floor("D")).last().to_numpy()
    prev = np.r_[equity[0], last[:-1]]
    return last / prev - 1.0


def run_params(
    *,
    strategy: str,
    frame: pd.DataFrame,
    params: dict[str, Any],
    settings: BacktestSettings,
    bar_seconds: int,
    symbol: str,
) -> BacktestResult:
    if strategy in SIGNAL_STRATEGIES:
        result, _ = run_signal_backtest(
            frame=frame,
            strategy=strategy,
            params=params,
            settings=settings,
            bar_seconds=bar_seconds,
        )
        return result
    live = trading_strategy_build(
        kind=strategy, symbol=symbol, params=params, settings=settings, bar_seconds=bar_seconds
    )
    return run_strategy_backtest(
        frame=frame, strategy=live, settings=settings, bar_seconds=bar_seconds
    )


@dataclass
class Evaluation:
    value: float | None
    metrics: dict[str, Any]
    result: BacktestResult
    violations: list[str]


#: Event-driven trials with pruning are scored on growing prefixes of the range (a third,
#: two thirds, all): the engine reports no equity while it runs, so the prefix runs are
#: its intermediate values. A pruned trial costs at most half a full run.
PRUNING_STAGES = (1 / 3, 2 / 3)


def evaluate(
    *,
    strategy: str,
    frame: pd.DataFrame,
    params: dict[str, Any],
    settings: BacktestSettings,
    bar_seconds: int,
    symbol: str,
    objective: str,
    constraints: dict[str, Any],
    report: Callable[[int, float], None] | None = None,
) -> Evaluation:
    """Run and score. `report(step, value)` receives intermediate values (pruning)."""
    if report is not None and engine_for(strategy) == BacktestEngine.EVENT_DRIVEN:
        for step, share in enumerate(PRUNING_STAGES):
            part = frame.iloc[: max(2, int(len(frame) * share))]
            partial = run_params(
                strategy=strategy,
                frame=part,
                params=params,
                settings=settings,
                bar_seconds=bar_seconds,
                symbol=symbol,
            )
            value = objective_value(partial.metrics, objective)
            report(step, value if value is not None else -1e9)
    result = run_params(
        strategy=strategy,
        frame=frame,
        params=params,
        settings=settings,
        bar_seconds=bar_seconds,
        symbol=symbol,
    )
    return Evaluation(
        value=objective_value(result.metrics, objective),
        metrics=result.metrics,
        result=result,
        violations=constraint_violations(result.metrics, constraints),
    )
