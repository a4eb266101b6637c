from __future__ import annotations

import optuna
import pytest

from prediction.research.models import ResearchStatus
from prediction.research.services.studies import study_create, study_run_inline
from prediction.research.storage import research_storage
from tests.research.conftest import TREND_SPACE
from xquant.errors import ValidationError

pytestmark = pytest.mark.django_db


def test_grid_study_runs_every_point_once_and_summarises(db):
    study = study_create(
        strategy="trend_following",
        symbol="BTCUSDT",
        timeframe="1h",
        space=TREND_SPACE,
        fixed_params={"allow_short": True},
        sampler="grid",
        n_trials=1000,
        objective="sharpe",
        seed=1,
    )
    assert study.n_trials == 6 * 4  # capped to the grid
    done = study_run_inline(study_id=study.pk)
    assert done.status == ResearchStatus.FINISHED
    assert done.trials_done == 24
    ostudy = optuna.load_study(study_name=study.optuna_name, storage=research_storage())
    pairs = {(t.params["fast"], t.params["slow"]) for t in ostudy.trials}
    assert len(pairs) == 24 and len(ostudy.trials) == 24
    best = done.results["best"]
    assert best[0]["value"] == max(t.value for t in ostudy.trials if t.value is not None)
    assert set(done.results["importance"]) <= {"fast", "slow"}
    assert done.results["heatmap"]["x"] in ("fast", "slow")
    stats = done.results["overfitting"]
    assert 0 <= stats["pbo"]["pbo"] <= 1
    assert 0 <= stats["deflated_sharpe"]["deflated_sharpe"] <= 1
    assert stats["deflated_sharpe_reading"].startswith("After accounting for 24 trials")


def test_invalid_combinations_are_recorded_with_the_strategys_reason(db):
    study = study_create(
        strategy="trend_following",
        symbol="BTCUSDT",
        timeframe="1h",
        space={
            "fast": {"type": "int", "low": 30, "high": 50, "step": 10},
            "slow": {"type": "int", "low": 40, "high": 40},
        },
        sampler="grid",
        n_trials=3,
    )
    study_run_inline(study_id=study.pk)
    ostudy = optuna.load_study(study_name=study.optuna_name, storage=research_storage())
    reasons = {t.params["fast"]: t.user_attrs.get("reason", "") for t in ostudy.trials}
    assert reasons[30] == ""
    assert "fast (40) must be smaller than slow (40)" in reasons[40]
    assert "fast (50) must be smaller than slow (40)" in reasons[50]


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"nope": {"type": "int", "low": 1, "high": 2}}, "not a parameter of trend_following"),
        ({"fast": {"type": "int", "low": 0, "high": 10}}, "low 0 is not allowed"),
        ({"ma_type": {"type": "categorical", "choices": ["sma", "wma"]}}, "choice 'wma'"),
        ({"fast": {"type": "int", "low": 9, "high": 2}}, "low 9 is above high 2"),
        (
            {
                "fast": {"type": "int", "low": 60, "high": 80},
                "slow": {"type": "int", "low": 10, "high": 50},
            },
            "No combination of the parameter space passes",
        ),
    ],
)
def test_space_is_checked_against_the_strategys_parameter_rules(db, space, message):
    with pytest.raises(ValidationError, match=message):
        study_create(
            strategy="trend_following",
            symbol="BTCUSDT",
            timeframe="1h",
            space=space,
            sampler="random",
            n_trials=5,
        )


def test_constraints_make_trials_infeasible_and_keep_them_out_of_the_best(db):
    study = study_create(
        strategy="trend_following",
        symbol="BTCUSDT",
        timeframe="1h",
        space=TREND_SPACE,
        sampler="random",
        n_trials=8,
        seed=3,
        constraints={"min_trades": 10_000},
    )
    done = study_run_inline(study_id=study.pk)
    assert done.results["feasible"] == 0
    assert done.results["best"] == []
    ostudy = optuna.load_study(study_name=study.optuna_name, storage=research_storage())
    assert all(
        "fewer than the 10000 asked" in t.user_attrs["infeasible"][0]
        for t in ostudy.trials
        if t.state.name == "COMPLETE"
    )


def test_event_driven_study_with_pruning_prunes_and_finishes(db):
    study = study_create(
        strategy="technical",
        symbol="BTCUSDT",
        timeframe="4h",
        space={
            "fast_period": {"type": "int", "low": 3, "high": 12},
            "slow_period": {"type": "int", "low": 15, "high": 40},
        },
        fixed_params={"signal": "ma_cross", "quantity": "0.01", "allow_short": True},
        sampler="random",
        objective="total_return",
        n_trials=14,
        seed=5,
        pruning=True,
    )
    done = study_run_inline(study_id=study.pk)
    assert done.status == ResearchStatus.FINISHED
    states = done.results["states"]
    assert states["complete"] + states["pruned"] + states["fail"] == 14
    assert states["pruned"] >= 1


def test_progress_and_the_end_reach_the_dashboard_as_typed_events(db, settings):
    from channels.layers import channel_layers

    from tests.trading.conftest import EventRecorder

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layers.backends.clear()
    try:
        recorder = EventRecorder()
        study = study_create(
            strategy="trend_following",
            symbol="BTCUSDT",
            timeframe="1h",
            space=TREND_SPACE,
            sampler="grid",
            n_trials=4,
            seed=1,
        )
        study_run_inline(study_id=study.pk)
        events = recorder.drain()
    finally:
        channel_layers.backends.clear()
    progress = [d for e, d in events if e == "study.progress"]
    assert [p["done"] for p in progress] == [1, 2, 3, 4]
    assert [p["percent"] for p in progress] == [25, 50, 75, 100]
    assert all(p["id"] == study.pk and p["total"] == 4 for p in progress)
    assert [d for e, d in events if e == "study.finished"] == [
        {"id": study.pk, "status": "finished", "error": ""}
    ]


def test_a_studys_bars_are_frozen_when_it_is_created(db):
    from datetime import timedelta

    from prediction.models import Candle
    from prediction.research.frames import study_frame, study_frames_clear

    study = study_create(
        strategy="trend_following",
        symbol="BTCUSDT",
        timeframe="1h",
        space=TREND_SPACE,
        sampler="random",
        n_trials=2,
        seed=1,
    )
    last = Candle.objects.filter(symbol="BTCUSDT", timeframe="1h").order_by("-open_time").first()
    assert study.end == last.open_time + timedelta(hours=1)
    # A bar stored later (a fetch, an import) is not part of this study.
    Candle.objects.create(
        symbol="BTCUSDT",
        timeframe="1h",
        open_time=study.end,
        open=1,
        high=1,
        low=1,
        close=1,
        volume=0,
    )
    study_frames_clear()
    frame = study_frame(
        symbol="BTCUSDT",
        timeframe="1h",
        start=study.start,
        end=study.end,
        synthetic=False,
        min_bars=1,
    )
    assert len(frame) == study.bar_count
