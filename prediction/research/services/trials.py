"""One trial of a study at a time: the budget under the study's lock, optuna's ask and
tell, the heartbeat while the backtest runs, and the summary once the budget is reached.
Called by the Celery chain links (prediction.research.tasks) and the in-process loop
(services.studies.study_run_inline) alike; see services.studies for how they spread."""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from dataclasses import dataclass

import optuna
from django.db import connections, transaction
from django.utils import timezone
from optuna.trial import TrialState

from prediction.backtest.config import backtest_settings
from prediction.research.evaluate import daily_returns, evaluate
from prediction.research.events import StudyFinished, StudyProgress, publish
from prediction.research.frames import study_frame
from prediction.research.models import ResearchStatus, Sampler, Study
from prediction.research.space import Space, strategy_params_check
from prediction.timeframes import timeframe_seconds
from xquant.errors import ValidationError

logger = logging.getLogger(__name__)

#: Fewer bars than this cannot say anything about a parameter set.
MIN_STUDY_BARS = 100

optuna.logging.set_verbosity(optuna.logging.WARNING)


def study_space(study: Study) -> Space:
    return Space(strategy=study.strategy, params=study.space, fixed=study.fixed_params)


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
    from prediction.research.storage import stale_trials_fail

    study = Study.objects.get(pk=study_id)
    if study.status in (ResearchStatus.FINISHED, ResearchStatus.FAILED):
        return study, None, None, "finished"
    # Outside the study's lock, which every worker waits for: loading the study, and
    # failing the trials of dead workers.
    ostudy = _load(study)
    stale_trials_fail(ostudy)
    with _study_lock(study_id) as study:
        if study.status in (ResearchStatus.FINISHED, ResearchStatus.FAILED):
            return study, None, None, "finished"
        counts = trial_counts(ostudy)
        if counts.done >= study.n_trials:
            return study, ostudy, None, "finish"
        if counts.done + counts.running >= study.n_trials and not counts.waiting:
            return study, ostudy, None, "wait"
        ostudy.sampler = study_sampler(study, counts.done + counts.running + counts.waiting)
        if counts.waiting or study.sampler == Sampler.GRID:
            # optuna's ask: it takes a queued retry first, and the grid sampler picks an
            # unvisited point from the trials so far, which only one process may do at once.
            trial = ostudy.ask()
            trial_id = trial._trial_id
        else:
            # A new running trial is what holds a place in the budget; the rest of an
            # ask (reading the trial back, the sampler's preparation: nothing for random
            # and TPE, whose draws come with the suggestions) needs no lock.
            trial = None
            trial_id = ostudy._storage.create_new_trial(ostudy._study_id)
        if study.status == ResearchStatus.QUEUED:
            study.status = ResearchStatus.RUNNING
            study.started_at = timezone.now()
            study.save(update_fields=["status", "started_at"])
    # A first beat at once: the trial is alive from its start, and one whose process dies
    # before its heartbeat thread starts goes stale like any other (a trial never beaten
    # at all, its process killed just above, is failed by stale_trials_fail).
    ostudy._storage.record_heartbeat(trial_id)
    if trial is None:
        trial = optuna.Trial(ostudy, trial_id)
    return study, ostudy, trial, "ran"


@contextmanager
def _beating(trial_id: int, storage: optuna.storages.BaseStorage):
    """The running trial's heartbeat every HEARTBEAT_SECONDS while the block runs. The
    ask beat it once already, so the first beat here is one interval later (optuna's own
    heartbeat thread beats at once, a second write per trial of a few milliseconds)."""
    from prediction.research.storage import HEARTBEAT_SECONDS

    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            storage.record_heartbeat(trial_id)

    thread = threading.Thread(target=beat, name=f"trial-{trial_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


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

    with _beating(trial._trial_id, research_storage()):
        state, value = _run_trial(study, trial)
    ostudy.tell(trial, value, state=state)
    counts = trial_counts(ostudy)
    Study.objects.filter(pk=study.pk).update(trials_done=counts.done)
    publish(
        StudyProgress(
            study=study, done=counts.done, trial=trial.number, state=state.name.lower(), value=value
        )
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
    publish(StudyFinished(study=study))
    return study
