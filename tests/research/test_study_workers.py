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
@pytest.mark.timeout(240)
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

        while time.monotonic() < deadline + 60:
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
