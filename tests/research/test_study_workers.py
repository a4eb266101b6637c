"""A 200-trial study through two real Celery workers on Redis and PostgreSQL; one worker
is killed mid-study."""

from __future__ import annotations

import os
import time

import optuna
import pytest
from django.db import connection
from optuna.trial import TrialState

from prediction.research.models import ResearchStatus, Study
from prediction.research.services.studies import study_create
from prediction.research.storage import research_storage
from prediction.research.workers import (
    chains_enqueue,
    worker_kill,
    workers_start,
    workers_stop,
)
from prediction.services.candles import sample_candles_load
from tests.conftest import ROOT, child_env

#: A Redis database of this test's own: the workers' broker and channel layer.
WORKER_REDIS_URL = os.environ.get("RESEARCH_WORKER_REDIS_URL", "redis://127.0.0.1:6379/13")


def _worker_env() -> dict[str, str]:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return child_env(
        DATABASE_URL=f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        REDIS_URL=WORKER_REDIS_URL,
        XQUANT_ENV="test",
        XQUANT_ENV_FILE="/nonexistent",
        CELERY_TASK_ALWAYS_EAGER="false",
        LOG_LEVEL="WARNING",
    )


def _flush_broker() -> None:
    import redis

    redis.Redis.from_url(WORKER_REDIS_URL).flushdb()


def _complete(study: Study) -> dict[int, float]:
    ostudy = optuna.load_study(study_name=study.optuna_name, storage=research_storage())
    return {
        t.number: t.value for t in ostudy.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    }


@pytest.mark.slow
@pytest.mark.timeout(400)
@pytest.mark.django_db(transaction=True)
def test_two_workers_run_200_trials_and_a_killed_worker_loses_no_completed_trial():
    sample_candles_load()
    _flush_broker()
    study = study_create(
        strategy="trend_following",
        symbol="BTCUSDT",
        timeframe="1h",
        space={
            "fast": {"type": "int", "low": 2, "high": 60},
            "slow": {"type": "int", "low": 61, "high": 300},
            "ma_type": {"type": "categorical", "choices": ["sma", "ema"]},
        },
        sampler="random",
        n_trials=200,
        seed=11,
        parallelism=4,
    )
    logs = ROOT / "test-artifacts"
    logs.mkdir(exist_ok=True)
    workers = workers_start(2, env=_worker_env(), prefix="study-kill", log_dir=logs)
    try:
        chains_enqueue(study.pk, study.parallelism, broker_url=WORKER_REDIS_URL)
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            study.refresh_from_db()
            if study.trials_done >= 40:
                break
            time.sleep(0.2)
        assert study.trials_done >= 40, f"only {study.trials_done} trials after 150 s"
        worker_kill(workers[0])
        before_kill = _complete(study)
        assert len(before_kill) >= 40

        # The other worker runs the rest alone, and the dead worker's trial comes back
        # only after its heartbeat's grace: bounded, with room for a loaded machine.
        finish_by = time.monotonic() + 180
        while time.monotonic() < finish_by:
            study.refresh_from_db()
            if study.status in (ResearchStatus.FINISHED, ResearchStatus.FAILED):
                break
            time.sleep(0.5)
        assert study.status == ResearchStatus.FINISHED, (study.status, study.trials_done)
        assert workers[1].poll() is None, "the surviving worker is still running"
        after = _complete(study)
        # Nothing completed before the kill was lost or changed.
        assert {n: after.get(n) for n in before_kill} == before_kill
        assert study.trials_done == 200
        states = study.results["states"]
        # 200 counted trials; a trial the dead worker held (if it held one) failed by
        # heartbeat and ran again, with its parameters, as a new trial.
        assert (
            states["complete"]
            + states["pruned"]
            + (states["fail"] - study.results["retried_after_worker_loss"])
            == 200
        )
        assert study.results["best"] and study.results["overfitting"]["pbo"] is not None
    finally:
        workers_stop(workers)
        _flush_broker()


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.django_db(transaction=True)
def test_optimize_distributed_runs_on_the_configured_broker_and_watches(capsys):
    """`optimize --distributed` as an operator runs it: chains queued on the project's own
    broker (REDIS_URL), a worker takes them, the command's progress bar follows."""
    import redis
    from django.conf import settings
    from django.core.management import call_command

    sample_candles_load()
    # Links queued by earlier tests that started studies without a worker.
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    env = {**_worker_env(), "REDIS_URL": settings.REDIS_URL}
    workers = workers_start(1, env=env, prefix="optimize-distributed")
    try:
        call_command(
            "optimize",
            "trend_following",
            "--timeframe",
            "1h",
            "--param",
            "fast=5:25:5",
            "--param",
            "slow=40:100:20",
            "--sampler",
            "grid",
            "--trials",
            "12",
            "--distributed",
            "--parallelism",
            "2",
            "--timeout",
            "120",
        )
    finally:
        workers_stop(workers)
    out = capsys.readouterr()
    study = Study.objects.get()
    assert study.status == ResearchStatus.FINISHED and study.trials_done == 12
    assert f"study #{study.pk}: trend_following on BTCUSDT 1h, 12 trials (grid)" in out.out
    assert "12/12" in out.err
