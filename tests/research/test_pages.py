from __future__ import annotations

import pytest
from django.test import Client

from prediction.research.models import Study, WalkForward
from prediction.research.services.studies import study_run_inline
from prediction.research.services.walkforward import walkforward_run
from tests.conftest import user_with_roles
from trading.models import StrategyConfig

pytestmark = pytest.mark.django_db

FORM = {
    "strategy": "trend_following",
    "symbol": "btcusdt",
    "timeframe": "1h",
    "space": '{"fast": {"type": "int", "low": 5, "high": 25, "step": 5}, '
    '"slow": {"type": "int", "low": 40, "high": 100, "step": 20}}',
    "fixed_params": '{"ma_type": "sma"}',
    "objective": "sharpe",
    "sampler": "random",
    "n_trials": "10",
    "seed": "3",
}


def _client(role: str) -> Client:
    client = Client()
    client.force_login(user_with_roles(role, role))
    return client


def test_the_form_starts_a_study_and_its_page_shows_every_result(
    django_capture_on_commit_callbacks,
):
    trader = _client("trader")
    assert b"Start study" in trader.get("/research/studies/").content
    with django_capture_on_commit_callbacks():
        response = trader.post("/research/studies/", FORM)
    study = Study.objects.get()
    assert response.status_code == 302 and response.url == f"/research/studies/{study.pk}/"
    assert b"0 of 10 trials" in trader.get(response.url).content
    study_run_inline(study_id=study.pk)
    with django_capture_on_commit_callbacks():
        trader.post(
            f"/research/studies/{study.pk}/walkforward/",
            {"mode": "rolling", "windows": "2", "oos_fraction": "0.25", "n_trials": "5"},
        )
    walkforward_run(walkforward_id=WalkForward.objects.get().pk)
    page = trader.get(f"/research/studies/{study.pk}/").content.decode()
    for marker in (
        "10 of 10 trials",
        "data-best-trials",
        "Create strategy from these parameters",
        "data-importance",
        "Heatmap: ",
        "After accounting for",
        "did no better than the median out of sample",
        'data-window="2"',
        "degradation",
        'id="stitched-data"',
    ):
        assert marker in page, marker
    fragment = trader.get(f"/research/studies/{study.pk}/?fragment=study")
    assert b"data-best-trials" in fragment.content and b"<html" not in fragment.content


def test_a_bad_space_is_shown_on_the_form():
    response = _client("trader").post("/research/studies/", {**FORM, "space": '{"speed": 1}'})
    assert response.status_code == 200
    assert b"not a parameter of trend_following" in response.content
    assert not Study.objects.exists()


def test_the_button_creates_an_inactive_strategy_and_opens_it(django_capture_on_commit_callbacks):
    trader = _client("trader")
    with django_capture_on_commit_callbacks():
        trader.post("/research/studies/", FORM)
    study = study_run_inline(study_id=Study.objects.get().pk)
    response = trader.post(f"/research/studies/{study.pk}/strategy/", {"quantity": "0.01"})
    strategy = StrategyConfig.objects.get()
    assert response.status_code == 302 and response.url == f"/strategies/{strategy.pk}/"
    assert strategy.is_active is False and strategy.params["quantity"] == "0.01"
    assert strategy.params["fast_period"] == study.results["best"][0]["params"]["fast"]


def test_a_viewer_sees_studies_without_the_buttons(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        _client("trader").post("/research/studies/", FORM)
    study = study_run_inline(study_id=Study.objects.get().pk)
    viewer = _client("viewer")
    assert b"may read studies but not start one" in viewer.get("/research/studies/").content
    page = viewer.get(f"/research/studies/{study.pk}/").content
    assert b"Create strategy from these parameters" not in page
    assert viewer.post(f"/research/studies/{study.pk}/strategy/", {}).status_code == 403
    assert viewer.post("/research/studies/", FORM).status_code == 403
    assert not StrategyConfig.objects.exists()


def test_a_parameter_set_drawn_by_several_trials_says_so_on_its_row():
    from prediction.research.services.studies import study_create

    study = study_create(
        strategy="trend_following",
        symbol="BTCUSDT",
        timeframe="1h",
        space={
            "fast": {"type": "int", "low": 5, "high": 5},
            "slow": {"type": "int", "low": 40, "high": 40},
        },
        fixed_params={"ma_type": "sma"},
        sampler="random",
        n_trials=3,
        seed=1,
    )
    study = study_run_inline(study_id=study.pk)
    assert [row["trials"] for row in study.results["best"]] == [3]
    page = _client("trader").get(f"/research/studies/{study.pk}/").content.decode()
    assert "× 3 trials" in page
