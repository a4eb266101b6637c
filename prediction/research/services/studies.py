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
from datetime import datetime
from typing import Any

import optuna
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db import connections, transaction

from prediction.backtest.config import backtest_settings
from prediction.backtest.event_driven import event_driven_sizing_check
from prediction.models import BacktestEngine
from prediction.research.evaluate import OBJECTIVES, engine_for
from prediction.research.frames import study_frame
from prediction.research.models import ResearchStatus, Sampler, Study
from prediction.research.services.trials import MIN_STUDY_BARS, study_trial_run
from prediction.research.space import space_build
from prediction.selectors import frame_description
from prediction.timeframes import timeframe_delta, timeframe_seconds
from trading.strategies.params import params_to_json
from xquant.errors import ValidationError

logger = logging.getLogger(__name__)

MAX_TRIALS = 5_000
#: A chain link that finds every remaining trial running elsewhere looks again after
#: this long (one of them may belong to a dead worker and come back as a retry).
WAIT_SECONDS = 2.0


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
        # The range is frozen at the bars read now: every trial (on any worker, at any
        # time) runs on the same bars, whatever is stored later.
        start=frame.index[0].to_pydatetime(),
        end=frame.index[-1].to_pydatetime() + timeframe_delta(timeframe),
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
