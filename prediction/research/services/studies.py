"""Parameter studies: create (validated), launch (Celery chains or in-process), run one
trial, finish, resume.

How a study spreads over workers: it is launched as `parallelism` chains of Celery
tasks; each task runs one trial (`study_trial_run`) and queues the next link of its
chain, until the budget is reached. Any worker on the broker takes any link, so adding
workers adds throughput. Trials are asked for under a row lock on the Study, so the
budget is never overshot and a grid point never drawn twice. A running trial beats a
heartbeat into optuna's storage; when a worker dies mid-trial its beats stop, the next
link anywhere fails that trial (optuna's fail_stale_trials) and optuna queues it again
with the same parameters, which the next ask picks up. Completed trials are in the
storage the moment they are told, so a dead worker loses none; a chain whose worker
died simply ends, and the remaining chains finish the study (`study_resume` starts new
chains when none is left). Without a broker (embedded mode, eager Celery) the same
trial loop runs in-process.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import optuna
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db import connections, transaction
from django.utils import timezone
from optuna.storages._heartbeat import get_heartbeat_thread
from optuna.trial import TrialState

from prediction.backtest.config import backtest_settings
from prediction.backtest.event_driven import event_driven_sizing_check
from prediction.models import BacktestEngine
from prediction.research.evaluate import OBJECTIVES, daily_returns, engine_for, evaluate
from prediction.research.frames import study_frame
from prediction.research.models import ResearchStatus, Sampler, Study
from prediction.research.space import Space, space_build, strategy_params_check
from prediction.selectors import frame_description
from prediction.timeframes import timeframe_seconds
from trading.strategies.params import params_to_json
from xquant import realtime
from xquant.errors import ValidationError

logger = logging.getLogger(__name__)

MIN_STUDY_BARS = 100
MAX_TRIALS = 5_000
#: A chain link that finds every remaining trial running elsewhere looks again after
#: this long (one of them may belong to a dead worker and come back as a retry).
WAIT_SECONDS = 2.0

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _choice(value: str, allowed: tuple[str, ...] | list[str], field: str) -> str:
    if value not in allowed:
        raise ValidationError(
            f"Unknown {field} {value!r}. Allowed: {', '.join(allowed)}.",
            extra={"fields": {field: [f"Allowed: {', '.join(allowed)}."]}},
        )
    return value


def _constraints_check(constraints: dict[str, Any] | None) -> dict[str, Any]:
    constraints = dict(constraints or {})
    unknown = set(constraints) - {"min_trades", "max_drawdown"}
    if unknown:
        raise ValidationError(
            f"Unknown constraint {', '.join(sorted(unknown))}. Allowed: min_trades, max_drawdown.",
            extra={"fields": {"constraints": ["Allowed: min_trades, max_drawdown."]}},
        )
    if "min_trades" in constraints:
        v = constraints["min_trades"]
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValidationError(
                "min_trades must be a whole number of trades, 0 or more.",
                extra={"fields": {"constraints.min_trades": ["A whole number >= 0."]}},
            )
    if "max_drawdown" in constraints:
        v = constraints["max_drawdown"]
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= 1:
            raise ValidationError(
                "max_drawdown is a fraction of equity above 0 and at most 1 (0.25 = 25%).",
                extra={"fields": {"constraints.max_drawdown": ["A fraction in (0, 1]."]}},
            )
    return constraints


def study_space(study: Study) -> Space:
    return Space(strategy=study.strategy, params=study.space, fixed=study.fixed_params)


def study_config_validate(
    *,
    strategy: str,
    symbol: str,
    timeframe: str,
    space: dict[str, Any],
    fixed_params: dict[str, Any] | None,
    settings: dict[str, Any] | None,
    objective: str,
    constraints: dict[str, Any] | None,
    sampler: str,
    n_trials: int,
    seed: int | None,
) -> dict[str, Any]:
    """Everything a study or walk-forward needs, validated (ValidationError, 400)."""
    engine = engine_for(strategy)
    timeframe_seconds(timeframe)
    config = backtest_settings(
        settings,
        default_sizing="fraction" if engine == BacktestEngine.VECTORISED else "strategy",
    )
    if engine == BacktestEngine.EVENT_DRIVEN:
        event_driven_sizing_check(kind=strategy, settings=config)
    elif config.sizing == "strategy":
        raise ValidationError(
            "Sizing 'strategy' needs a trading strategy's own quantities; signal "
            "strategies take sizing fraction or fixed.",
            extra={"fields": {"sizing": ["Not available on the vectorised engine."]}},
        )
    built = space_build(strategy=strategy, space=space, fixed=fixed_params, seed=seed or 0)
    _choice(objective, OBJECTIVES, "objective")
    _choice(sampler, Sampler.values, "sampler")
    if (
        isinstance(n_trials, bool)
        or not isinstance(n_trials, int)
        or not 1 <= n_trials <= MAX_TRIALS
    ):
        raise ValidationError(
            f"n_trials must be a whole number from 1 to {MAX_TRIALS:,}.",
            extra={"fields": {"n_trials": [f"From 1 to {MAX_TRIALS:,}."]}},
        )
    if sampler == Sampler.GRID:
        n_trials = min(n_trials, built.grid_size())
    return {
        "engine": engine,
        "config": config.as_dict(),
        "space": built.as_json(),
        "fixed_params": params_to_json(built.fixed),
        "objective": objective,
        "constraints": _constraints_check(constraints),
        "sampler": sampler,
        "n_trials": n_trials,
        "seed": seed,
    }


def study_create(
    *,
    strategy: str,
    symbol: str,
    timeframe: str,
    space: dict[str, Any],
    objective: str = "sharpe",
    sampler: str = "tpe",
    n_trials: int = 50,
    fixed_params: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    constraints: dict[str, Any] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    synthetic: bool = False,
    seed: int | None = None,
    parallelism: int = 4,
    pruning: bool = False,
    name: str = "",
    user=None,
) -> Study:
    """Validate a study, store it as queued and create its optuna study."""
    values = study_config_validate(
        strategy=strategy,
        symbol=symbol,
        timeframe=timeframe,
        space=space,
        fixed_params=fixed_params,
        settings=settings,
        objective=objective,
        constraints=constraints,
        sampler=sampler,
        n_trials=n_trials,
        seed=seed,
    )
    if (
        isinstance(parallelism, bool)
        or not isinstance(parallelism, int)
        or not 1 <= parallelism <= 64
    ):
        raise ValidationError(
            "parallelism must be from 1 to 64.", extra={"fields": {"parallelism": ["1 to 64."]}}
        )
    frame = study_frame(
        symbol=symbol,
        timeframe=timeframe,
        start=start,
        end=end,
        synthetic=synthetic,
        min_bars=MIN_STUDY_BARS,
    )
    from prediction.research.storage import research_storage

    # optuna's study first, on its own connection: inside the caller's transaction a
    # SQLite database (embedded mode) is locked for any other writer once this
    # transaction has written. An unused optuna study, should the row roll back, is
    # harmless.
    optuna_name = f"xquant-study-{uuid.uuid4().hex}"
    optuna.create_study(study_name=optuna_name, storage=research_storage(), direction="maximize")
    study = Study.objects.create(
        name=name or f"{strategy} {symbol} {timeframe}",
        strategy=strategy,
        symbol=symbol,
        timeframe=timeframe,
        start=start,
        end=end,
        synthetic=synthetic,
        parallelism=parallelism,
        pruning=pruning,
        optuna_name=optuna_name,
        bar_count=len(frame),
        data=frame_description(frame, symbol=symbol, timeframe=timeframe, synthetic=synthetic),
        created_by=user if isinstance(user, get_user_model()) else None,
        **values,
    )
    return study


def study_launch(**kwargs: Any) -> Study:
    """Create a study and start it after the transaction commits: Celery chains on the
    broker, or (embedded mode) a thread beside the web server."""
    study = study_create(**kwargs)
    transaction.on_commit(lambda: study_start(study_id=study.pk))
    return study


def _distributed() -> bool:
    return bool(django_settings.REDIS_URL) and not django_settings.CELERY_TASK_ALWAYS_EAGER


def study_start(*, study_id: int, chains: int | None = None) -> None:
    study = Study.objects.get(pk=study_id)
    if _distributed():
        from prediction.research.tasks import study_trial_chain

        for _ in range(chains or study.parallelism):
            study_trial_chain.delay(study.pk)
    else:
        threading.Thread(
            target=_run_in_thread, args=(study.pk,), name=f"study-{study.pk}", daemon=True
        ).start()


def study_resume(*, study_id: int) -> Study:
    """Start chains again for a study that is not finished (workers died, broker lost)."""
    study = Study.objects.get(pk=study_id)
    if study.status != ResearchStatus.FINISHED:
        study_start(study_id=study.pk)
    return study


def _run_in_thread(study_id: int) -> None:
    try:
        study_run_inline(study_id=study_id)
    except Exception:
        logger.exception("study %s failed", study_id)
    finally:
        connections.close_all()


def study_run_inline(*, study_id: int, progress: Callable[[int, int], None] | None = None) -> Study:
    """Run a study's trials in this process until it is finished."""
    while True:
        outcome = study_trial_run(study_id=study_id)
        study = Study.objects.get(pk=study_id)
        if progress:
            progress(study.trials_done, study.n_trials)
        if outcome == "finished":
            return study
        if outcome == "wait":
            # Only stale trials of another process are left: they fail after the grace
            # period and come back as retries.
            import time

            time.sleep(WAIT_SECONDS)


@dataclass
class Counts:
    done: int
    running: int
    waiting: int


def _is_stale_failure(trial: optuna.trial.FrozenTrial) -> bool:
    """A failure we did not record ourselves: the heartbeat failed it (a dead worker)."""
    return trial.state == TrialState.FAIL and "reason" not in trial.user_attrs


def trial_counts(ostudy: optuna.Study) -> Counts:
    from prediction.research.storage import trial_state_counts

    done = running = waiting = 0
    for state, has_reason, n in trial_state_counts(ostudy.study_name):
        if state in ("COMPLETE", "PRUNED") or (state == "FAIL" and has_reason):
            done += n
        elif state == "RUNNING":
            running += n
        elif state == "WAITING":
            waiting += n
    return Counts(done, running, waiting)


def _constraints_func(trial: optuna.trial.FrozenTrial) -> list[float]:
    return [1.0 if trial.user_attrs.get("infeasible") else -1.0]


class BudgetGridSampler(optuna.samplers.GridSampler):
    """optuna's grid sampler stops `Study.optimize` when the grid is used up; trials are
    asked and told one by one here, and the study's budget (capped to the grid's size)
    says when it ends."""

    def after_trial(self, study, trial, state, values) -> None:
        pass


def study_sampler(study: Study, draw: int) -> optuna.samplers.BaseSampler:
    """A sampler for one ask. Its seed moves with the number of trials already drawn, so
    processes sampling the same study never repeat one another's draws, and a study run
    in one process is reproducible."""
    seed = None if study.seed is None else (study.seed * 1_000_003 + draw) % (2**32)
    if study.sampler == Sampler.GRID:
        # One seed for every ask: the grid sampler shuffles the grid with it, and a grid
        # point is named by its place in that order.
        return BudgetGridSampler(study_space(study).grid(), seed=study.seed or 0)
    if study.sampler == Sampler.RANDOM:
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(
        seed=seed,
        n_startup_trials=min(10, max(1, study.n_trials // 5)),
        constraints_func=_constraints_func,
    )


def _load(study: Study, draw: int = 0) -> optuna.Study:
    from prediction.research.storage import research_storage

    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
        if study.pruning
        else optuna.pruners.NopPruner()
    )
    return optuna.load_study(
        study_name=study.optuna_name,
        storage=research_storage(),
        sampler=study_sampler(study, draw),
        pruner=pruner,
    )


_local_lock = threading.Lock()


@contextmanager
def _study_lock(study_id: int):
    """The study's row lock on PostgreSQL (every process on every machine). SQLite is
    embedded mode, one process: a lock in this process; holding a SQLite transaction
    open would keep optuna's own connection from writing (database is locked)."""
    if connections["default"].vendor == "sqlite":
        with _local_lock:
            yield Study.objects.get(pk=study_id)
    else:
        with transaction.atomic():
            yield Study.objects.select_for_update().get(pk=study_id)


def _ask(study_id: int) -> tuple[Study, optuna.Study, optuna.Trial | None, str]:
    with _study_lock(study_id) as study:
        if study.status in (ResearchStatus.FINISHED, ResearchStatus.FAILED):
            return study, None, None, "finished"
        ostudy = _load(study)
        optuna.storages.fail_stale_trials(ostudy)
        counts = trial_counts(ostudy)
        if counts.done >= study.n_trials:
            return study, ostudy, None, "finish"
        if counts.done + counts.running >= study.n_trials and not counts.waiting:
            return study, ostudy, None, "wait"
        ostudy.sampler = study_sampler(study, counts.done + counts.running + counts.waiting)
        trial = ostudy.ask()
        if study.status == ResearchStatus.QUEUED:
            study.status = ResearchStatus.RUNNING
            study.started_at = timezone.now()
            study.save(update_fields=["status", "started_at"])
        return study, ostudy, trial, "ran"


def study_trial_run(*, study_id: int) -> str:
    """Run the study's next trial. Returns "ran", "wait" (every remaining trial is
    running elsewhere) or "finished"."""
    study, ostudy, trial, outcome = _ask(study_id)
    if outcome == "finished":
        return outcome
    if outcome == "finish":
        study_finish(study_id=study_id)
        return "finished"
    if outcome == "wait":
        return outcome
    from prediction.research.storage import research_storage

    with get_heartbeat_thread(trial._trial_id, research_storage()):
        state, value = _run_trial(study, trial)
    ostudy.tell(trial, value, state=state)
    counts = trial_counts(ostudy)
    Study.objects.filter(pk=study.pk).update(trials_done=counts.done)
    realtime.publish(
        realtime.DASHBOARD_GROUP,
        "study.progress",
        {
            "id": study.pk,
            "done": counts.done,
            "total": study.n_trials,
            "percent": min(100, int(counts.done * 100 / study.n_trials)),
            "trial": trial.number,
            "state": state.name.lower(),
            "value": value,
        },
    )
    if counts.done >= study.n_trials:
        study_finish(study_id=study.pk)
        return "finished"
    return "ran"


def _run_trial(study: Study, trial: optuna.Trial) -> tuple[TrialState, float | None]:
    params = study_space(study).suggest(trial)
    try:
        strategy_params_check(study.strategy, params)
    except ValidationError as exc:
        trial.set_user_attr("reason", f"invalid: {exc.message}")
        return TrialState.FAIL, None
    try:
        frame = study_frame(
            symbol=study.symbol,
            timeframe=study.timeframe,
            start=study.start,
            end=study.end,
            synthetic=study.synthetic,
            min_bars=MIN_STUDY_BARS,
        )

        def report(step: int, value: float) -> None:
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()

        evaluation = evaluate(
            strategy=study.strategy,
            frame=frame,
            params=params,
            settings=backtest_settings(study.config),
            bar_seconds=timeframe_seconds(study.timeframe),
            symbol=study.symbol,
            objective=study.objective,
            constraints=study.constraints,
            report=report if study.pruning else None,
        )
    except optuna.TrialPruned:
        trial.set_user_attr("reason", "pruned: below the median of earlier trials part-way")
        return TrialState.PRUNED, None
    except Exception as exc:
        logger.exception("study %s trial %s failed", study.pk, trial.number)
        trial.set_user_attr("reason", f"error: {exc}")
        return TrialState.FAIL, None
    m = evaluation.metrics
    trial.set_user_attr(
        "metrics",
        {
            k: m.get(k)
            for k in (
                "total_return",
                "sharpe",
                "sortino",
                "cagr",
                "max_drawdown",
                "profit_factor",
                "trade_count",
                "win_rate",
            )
        },
    )
    trial.set_user_attr(
        "daily_returns",
        [round(float(x), 10) for x in daily_returns(evaluation.result.equity, frame.index)],
    )
    if evaluation.violations:
        trial.set_user_attr("infeasible", evaluation.violations)
    if evaluation.value is None:
        trial.set_user_attr(
            "reason", f"undefined: {study.objective} has no value (too few trades or returns)"
        )
        return TrialState.FAIL, None
    return TrialState.COMPLETE, evaluation.value


def study_finish(*, study_id: int) -> Study:
    """Summarise a study whose budget is reached (once, under the row lock)."""
    from prediction.research.services.results import study_results

    with _study_lock(study_id) as study:
        if study.status == ResearchStatus.FINISHED:
            return study
        ostudy = _load(study)
        counts = trial_counts(ostudy)
        try:
            study.results = study_results(study, ostudy)
            study.status = ResearchStatus.FINISHED
        except Exception as exc:
            logger.exception("study %s summary failed", study.pk)
            study.status = ResearchStatus.FAILED
            study.error = str(exc) or exc.__class__.__name__
        study.trials_done = counts.done
        study.finished_at = timezone.now()
        study.save()
    realtime.publish(
        realtime.DASHBOARD_GROUP,
        "study.finished",
        {"id": study.pk, "status": study.status, "error": study.error},
    )
    return study
