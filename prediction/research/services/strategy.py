"""A study's parameters as an inactive strategy config, for a person to review.

Goes through the trading side's public service (`strategy_config_create`, validated,
audited) with `is_active=False`: nothing trades until someone switches it on.
Which research strategies map onto a live kind:
- a trading kind studied through the event-driven engine (technical, combined, ...): the
  same kind and parameters (bar-building kinds get the study's timeframe as
  `bar_seconds`, as in the backtest);
- trend_following with simple averages and the cross rule: the live Technical ma_cross
  rule it reproduces (fast/slow become fast_period/slow_period); an EMA or the state
  rule has no live counterpart and is refused with the reason.
"""

from __future__ import annotations

from typing import Any

import optuna
from optuna.trial import TrialState

from prediction.research.models import ResearchStatus, Study
from prediction.research.storage import research_storage
from prediction.timeframes import timeframe_seconds
from trading.models import StrategyConfig
from trading.services.audit import Actor
from trading.services.strategies import strategy_config_create
from trading.strategies.params import PARAMS_BY_KIND
from xquant.errors import ValidationError

BAR_BUILDING = ("technical", "combined")
DEFAULT_QUANTITY = "0.001"


def study_trial_params(*, study: Study, trial_number: int | None = None) -> tuple[int, dict]:
    """(trial number, full parameters) of the best feasible trial, or of a given one."""
    if trial_number is None:
        best = (study.results or {}).get("best") or []
        if not best:
            raise ValidationError(
                f"Study {study.pk} has no feasible completed trial to take parameters from."
            )
        trial_number = best[0]["number"]
    ostudy = optuna.load_study(study_name=study.optuna_name, storage=research_storage())
    trials = [t for t in ostudy.get_trials(deepcopy=False) if t.number == trial_number]
    if not trials or trials[0].state != TrialState.COMPLETE:
        raise ValidationError(
            f"Trial {trial_number} of study {study.pk} is not a completed trial.",
            extra={"fields": {"trial": ["Not a completed trial."]}},
        )
    return trial_number, {**study.fixed_params, **trials[0].params}


def live_params(
    *, study: Study, params: dict[str, Any], quantity: str | None
) -> tuple[str, dict[str, Any]]:
    """(live kind, its parameters) for a study's parameters, or ValidationError why not."""
    bar_seconds = timeframe_seconds(study.timeframe)
    if study.strategy in PARAMS_BY_KIND:
        out = dict(params)
        if study.strategy in BAR_BUILDING:
            out.setdefault("bar_seconds", bar_seconds)
        return study.strategy, out
    if study.strategy == "trend_following":
        ma_type = params.get("ma_type", "ema")
        rule = params.get("rule", "cross")
        if ma_type != "sma" or rule != "cross":
            raise ValidationError(
                f"These parameters use {ma_type.upper()} averages and the {rule} rule; the "
                "live Technical strategy trades simple averages (SMA) with the cross rule "
                "only. Study ma_type=sma, rule=cross to make a live strategy from it."
            )
        return "technical", {
            "signal": "ma_cross",
            "fast_period": params.get("fast", 20),
            "slow_period": params.get("slow", 50),
            "allow_short": params.get("allow_short", True),
            "bar_seconds": bar_seconds,
            "quantity": quantity or DEFAULT_QUANTITY,
        }
    raise ValidationError(
        f"{study.strategy} is a research signal with no live strategy class: only trading "
        "kinds and trend_following (SMA, cross rule) become strategy configs."
    )


def study_strategy_create(
    *,
    study: Study,
    trial_number: int | None = None,
    name: str | None = None,
    quantity: str | None = None,
    actor: Actor | None = None,
) -> StrategyConfig:
    if study.status != ResearchStatus.FINISHED:
        raise ValidationError(f"Study {study.pk} is {study.status}; wait until it has finished.")
    number, params = study_trial_params(study=study, trial_number=trial_number)
    kind, live = live_params(study=study, params=params, quantity=quantity)
    if quantity and "quantity" in PARAMS_BY_KIND[kind]().fields:
        live["quantity"] = quantity
    return strategy_config_create(
        name=name or f"{study.strategy} {study.symbol} study {study.pk} trial {number}",
        kind=kind,
        symbol=study.symbol,
        params=live,
        is_active=False,
        actor=actor,
    )
