"""Walk-forward analyses as records: create (validated), launch (a Celery task, or a
thread in embedded mode), run. The analysis itself is prediction.research.walkforward."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db import connections, transaction
from django.utils import timezone

from prediction.backtest.config import backtest_settings
from prediction.research.events import WalkForwardFinished, WalkForwardProgress, publish
from prediction.research.frames import study_frame
from prediction.research.models import ResearchStatus, WalkForward
from prediction.research.services.studies import study_config_validate
from prediction.research.services.trials import MIN_STUDY_BARS
from prediction.research.space import Space
from prediction.research.walkforward import walkforward_analyse, window_layout
from prediction.timeframes import timeframe_delta
from xquant.errors import ValidationError

logger = logging.getLogger(__name__)


def walkforward_create(
    *,
    strategy: str,
    symbol: str,
    timeframe: str,
    space: dict[str, Any],
    objective: str = "sharpe",
    sampler: str = "tpe",
    n_trials: int = 30,
    mode: str = "rolling",
    windows: int = 4,
    oos_fraction: float = 0.25,
    fixed_params: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    constraints: dict[str, Any] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    synthetic: bool = False,
    seed: int | None = None,
    study=None,
    user=None,
) -> WalkForward:
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
    if isinstance(oos_fraction, bool) or not isinstance(oos_fraction, int | float):
        raise ValidationError(
            "oos_fraction must be a number.", extra={"fields": {"oos_fraction": ["A number."]}}
        )
    frame = study_frame(
        symbol=symbol,
        timeframe=timeframe,
        start=start,
        end=end,
        synthetic=synthetic,
        min_bars=MIN_STUDY_BARS,
    )
    window_layout(len(frame), windows=windows, oos_fraction=float(oos_fraction), mode=mode)
    return WalkForward.objects.create(
        strategy=strategy,
        symbol=symbol,
        timeframe=timeframe,
        # The range is frozen at the bars read now: every trial (on any worker, at any
        # time) runs on the same bars, whatever is stored later.
        start=frame.index[0].to_pydatetime(),
        end=frame.index[-1].to_pydatetime() + timeframe_delta(timeframe),
        synthetic=synthetic,
        mode=mode,
        windows=windows,
        oos_fraction=float(oos_fraction),
        study=study,
        created_by=user if isinstance(user, get_user_model()) else None,
        **values,
    )


def walkforward_launch(**kwargs: Any) -> WalkForward:
    wf = walkforward_create(**kwargs)
    if django_settings.REDIS_URL and not django_settings.CELERY_TASK_ALWAYS_EAGER:
        from prediction.research.tasks import walkforward_execute

        transaction.on_commit(lambda: walkforward_execute.delay(wf.pk))
    else:
        transaction.on_commit(
            lambda: threading.Thread(
                target=_run_in_thread, args=(wf.pk,), name=f"walkforward-{wf.pk}", daemon=True
            ).start()
        )
    return wf


def _run_in_thread(walkforward_id: int) -> None:
    try:
        walkforward_run(walkforward_id=walkforward_id)
    finally:
        connections.close_all()


def walkforward_run(
    *, walkforward_id: int, progress: Callable[[int, int], None] | None = None
) -> WalkForward:
    wf = WalkForward.objects.get(pk=walkforward_id)
    if wf.status in (ResearchStatus.FINISHED, ResearchStatus.RUNNING):
        return wf
    wf.status = ResearchStatus.RUNNING
    wf.save(update_fields=["status"])

    def report(done: int, total: int) -> None:
        WalkForward.objects.filter(pk=wf.pk).update(windows_done=done)
        publish(WalkForwardProgress(walkforward=wf, done=done, total=total))
        if progress:
            progress(done, total)

    try:
        frame = study_frame(
            symbol=wf.symbol,
            timeframe=wf.timeframe,
            start=wf.start,
            end=wf.end,
            synthetic=wf.synthetic,
            min_bars=MIN_STUDY_BARS,
        )
        wf.results = walkforward_analyse(
            frame=frame,
            strategy=wf.strategy,
            symbol=wf.symbol,
            timeframe=wf.timeframe,
            space=Space(strategy=wf.strategy, params=wf.space, fixed=wf.fixed_params),
            config=backtest_settings(wf.config),
            objective=wf.objective,
            constraints=wf.constraints,
            sampler=wf.sampler,
            n_trials=wf.n_trials,
            seed=wf.seed,
            mode=wf.mode,
            windows=wf.windows,
            oos_fraction=wf.oos_fraction,
            progress=report,
        )
        wf.status = ResearchStatus.FINISHED
        wf.windows_done = wf.windows
    except Exception as exc:
        logger.exception("walk-forward %s failed", wf.pk)
        wf.status = ResearchStatus.FAILED
        wf.error = str(exc) or exc.__class__.__name__
    wf.finished_at = timezone.now()
    wf.save()
    publish(WalkForwardFinished(walkforward=wf))
    return wf
