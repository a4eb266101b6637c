"""A trial whose worker died is failed by its stopped heartbeat and run again with the
same parameters; a study stopped half-way is resumed to its end."""

from __future__ import annotations

import time

import optuna
import pytest
from optuna.storages._heartbeat import get_heartbeat_thread
from optuna.trial import TrialState

from prediction.research import storage as research_storage_module
from prediction.research.models import ResearchStatus
from prediction.research.services.studies import study_create, study_run_inline
from prediction.research.services.trials import study_trial_run
from prediction.research.storage import research_storage, research_storage_close_all
from tests.research.conftest import TREND_SPACE

pytestmark = pytest.mark.django_db


@pytest.fixture
def short_grace(monkeypatch):
    research_storage_close_all()
    monkeypatch.setattr(research_storage_module, "HEARTBEAT_SECONDS", 1)
    monkeypatch.setattr(research_storage_module, "GRACE_SECONDS", 2)
    yield
    research_storage_close_all()


@pytest.mark.parametrize(
    "beaten",
    [
        pytest.param(True, id="its-beats-stopped"),
        # Killed between the commit that started the trial and its first beat: optuna
        # alone never counts such a trial as stale.
        pytest.param(False, id="never-beaten"),
    ],
)
def test_a_dead_workers_trial_is_failed_and_retried_with_its_parameters(
    short_grace, beaten, caplog
):
    study = study_create(
        strategy="trend_following",
        symbol="BTCUSDT",
        timeframe="1h",
        space=TREND_SPACE,
        sampler="grid",
        n_trials=5,
        seed=1,
    )
    ostudy = optuna.load_study(study_name=study.optuna_name, storage=research_storage())
    # A "worker" takes a trial, beats once (or not at all), and dies holding it.
    orphan = ostudy.ask()
    orphan_params = {
        "fast": orphan.suggest_int("fast", 5, 30, step=5),
        "slow": orphan.suggest_int("slow", 40, 100, step=20),
    }
    if beaten:
        with get_heartbeat_thread(orphan._trial_id, research_storage()):
            pass
    assert study_trial_run(study_id=study.pk) == "ran"  # the orphan is still in grace
    assert ostudy._storage.get_trial(orphan._trial_id).state == TrialState.RUNNING
    time.sleep(2.5)
    done = study_run_inline(study_id=study.pk)
    assert done.status == ResearchStatus.FINISHED and done.trials_done == 5
    trials = optuna.load_study(study_name=study.optuna_name, storage=research_storage()).get_trials(
        deepcopy=False
    )
    by_number = {t.number: t for t in trials}
    assert by_number[orphan.number].state == TrialState.FAIL
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == orphan.number]
    assert len(retried) == 1 and retried[0].state == TrialState.COMPLETE
    assert retried[0].params == orphan_params
    assert done.results["retried_after_worker_loss"] == 1
    assert ("never beat" in caplog.text) is not beaten  # what the operator reads


def test_a_study_stopped_half_way_resumes_to_its_end():
    study = study_create(
        strategy="trend_following",
        symbol="BTCUSDT",
        timeframe="1h",
        space=TREND_SPACE,
        sampler="random",
        n_trials=8,
        seed=4,
    )
    for _ in range(3):
        study_trial_run(study_id=study.pk)
    study.refresh_from_db()
    assert study.status == ResearchStatus.RUNNING and study.trials_done == 3
    done = study_run_inline(study_id=study.pk)
    assert done.status == ResearchStatus.FINISHED and done.trials_done == 8
    assert (
        len(optuna.load_study(study_name=study.optuna_name, storage=research_storage()).trials) == 8
    )
