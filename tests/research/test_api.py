from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from prediction.research.models import ResearchStatus, Study
from prediction.research.services.studies import study_run_inline
from tests.conftest import user_with_roles
from tests.research.conftest import TREND_SPACE
from trading.models import AuditEvent, StrategyConfig

pytestmark = pytest.mark.django_db

BODY = {
    "strategy": "trend_following",
    "timeframe": "1h",
    "space": TREND_SPACE,
    "fixed_params": {"ma_type": "sma"},
    "sampler": "random",
    "n_trials": 8,
    "seed": 9,
    "constraints": {"min_trades": 1},
}


def _client(role: str) -> APIClient:
    client = APIClient()
    client.force_login(user_with_roles(role, role))
    return client


def _started(client, django_capture_on_commit_callbacks, body=BODY):
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post("/api/research/studies", body, format="json")
    assert response.status_code == 202, response.json()
    # Started after the commit: as Celery chains, or on a thread in embedded mode.
    assert len(callbacks) == 1
    return response.json()


def test_trader_starts_a_study_and_reads_its_results(django_capture_on_commit_callbacks):
    trader = _client("trader")
    body = _started(trader, django_capture_on_commit_callbacks)
    assert body["status"] == "queued" and body["n_trials"] == 8
    study_run_inline(study_id=body["id"])
    detail = trader.get(f"/api/research/studies/{body['id']}").json()
    assert detail["status"] == "finished" and detail["progress"] == 100
    assert detail["results"]["best"][0]["params"].keys() == {"fast", "slow"}
    assert "deflated_sharpe_reading" in detail["results"]["overfitting"]
    trials = trader.get(f"/api/research/studies/{body['id']}/trials").json()
    assert len(trials) == 8 and {t["state"] for t in trials} <= {"complete", "fail"}
    listed = trader.get("/api/research/studies").json()
    assert [s["id"] for s in listed["results"]] == [body["id"]]


def test_a_bad_space_is_a_400_naming_the_parameter(django_capture_on_commit_callbacks):
    response = _client("trader").post(
        "/api/research/studies",
        {**BODY, "space": {"fast": {"type": "int", "low": 0, "high": 5}}},
        format="json",
    )
    assert response.status_code == 400
    assert "space.fast" in response.json()["fields"]
    assert not Study.objects.exists()


def test_a_viewer_reads_but_may_not_start_a_study():
    viewer = _client("viewer")
    assert viewer.get("/api/research/studies").status_code == 200
    response = viewer.post("/api/research/studies", BODY, format="json")
    assert response.status_code == 403
    assert "prediction.add_backtestrun" in response.json()["message"]


def test_best_parameters_become_an_inactive_strategy_config(django_capture_on_commit_callbacks):
    trader = _client("trader")
    body = _started(trader, django_capture_on_commit_callbacks)
    study = study_run_inline(study_id=body["id"])
    best = study.results["best"][0]
    response = trader.post(
        f"/api/research/studies/{study.pk}/strategy", {"quantity": "0.002"}, format="json"
    )
    assert response.status_code == 201, response.json()
    strategy = StrategyConfig.objects.get(pk=response.json()["id"])
    assert strategy.is_active is False
    assert strategy.kind == "technical" and strategy.symbol == "BTCUSDT"
    assert strategy.params["signal"] == "ma_cross"
    assert strategy.params["fast_period"] == best["params"]["fast"]
    assert strategy.params["slow_period"] == best["params"]["slow"]
    assert strategy.params["bar_seconds"] == 3600 and strategy.params["quantity"] == "0.002"
    assert AuditEvent.objects.filter(action="strategy.create").count() == 1


def test_ema_parameters_have_no_live_strategy_and_say_why(django_capture_on_commit_callbacks):
    trader = _client("trader")
    body = _started(
        trader, django_capture_on_commit_callbacks, {**BODY, "fixed_params": {"ma_type": "ema"}}
    )
    study_run_inline(study_id=body["id"])
    response = trader.post(f"/api/research/studies/{body['id']}/strategy", {}, format="json")
    assert response.status_code == 400
    assert "live Technical strategy trades simple averages" in response.json()["message"]
    assert not StrategyConfig.objects.exists()


def test_a_viewer_may_not_create_a_strategy_from_a_study():
    response = _client("viewer").post("/api/research/studies/1/strategy", {}, format="json")
    assert response.status_code == 403


def test_walkforward_and_lookahead_endpoints(django_capture_on_commit_callbacks):
    trader = _client("trader")
    with django_capture_on_commit_callbacks() as callbacks:
        response = trader.post(
            "/api/research/walkforwards",
            {**BODY, "sampler": "grid", "n_trials": 6, "windows": 2},
            format="json",
        )
    assert response.status_code == 202, response.json()
    assert len(callbacks) == 1
    from prediction.research.services.walkforward import walkforward_run

    walkforward_run(walkforward_id=response.json()["id"])
    detail = trader.get(f"/api/research/walkforwards/{response.json()['id']}").json()
    assert detail["status"] == ResearchStatus.FINISHED
    assert len(detail["results"]["windows"]) == 2 and detail["results"]["stitched"]
    check = trader.get("/api/research/checks", {"strategy": "bollinger"}).json()
    assert check["lookahead_passed"] is True and check["bars_checked"] > 0
