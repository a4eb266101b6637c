"""Liveness and readiness: /livez and /readyz for web, `manage.py probe <role>` for the
processes without HTTP, and the docker-compose healthchecks that use them."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from decimal import Decimal as D

import pytest
import yaml
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from tests.conftest import ROOT, trader_env, wait_for
from trading.models import TraderHeartbeat
from trading.probes import probe_role
from xquant.celery import app as celery_app

pytestmark = pytest.mark.django_db


def probe(role: str, **options) -> int:
    """The command's exit status."""
    try:
        call_command("probe", role, **options)
    except SystemExit as exit:
        return exit.code
    return 0


def test_livez_answers_anybody_without_checking_anything(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # down: liveness does not care
    response = client.get("/livez")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ready_when_the_migrated_database_and_redis_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "redis": "ok"},
    }


def test_readyz_is_not_ready_when_redis_is_down_and_says_only_which_check(client, settings):
    settings.REDIS_URL = "redis://:hunter2-redis-secret@127.0.0.1:1/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"] == "failing"
    assert b"hunter2" not in response.content


def test_the_trader_probe_fails_once_a_symbol_stops_ticking(settings, capsys):
    settings.TRADING_SYMBOLS = ["BTCUSDT"]
    beat = TraderHeartbeat.objects.create(
        symbol="BTCUSDT", last_tick_at=timezone.now(), last_tick_ms=D("2")
    )
    assert probe("trader") == 0

    beat.last_tick_at = timezone.now() - timedelta(minutes=5)
    beat.save()
    assert probe("trader") == 1
    assert "no recent tick for BTCUSDT" in capsys.readouterr().err


def test_the_beat_probe_fails_when_no_task_was_sent_for_ten_minutes(capsys):
    PeriodicTask.objects.update(last_run_at=None)
    assert probe("beat") == 1
    assert "no task sent since never" in capsys.readouterr().err

    task = PeriodicTask.objects.filter(enabled=True).first()
    task.last_run_at = timezone.now() - timedelta(minutes=11)
    task.save()
    assert probe("beat") == 1

    task.last_run_at = timezone.now() - timedelta(minutes=2)
    task.save()
    assert probe("beat") == 0


def test_no_role_is_live_when_its_database_is_not_ready(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    for role in ("web", "worker", "beat", "trader"):
        result = probe_role(role)
        assert not result.ok
        assert result.checks["redis"] == "failing"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_worker_probe_passes_only_while_its_worker_answers():
    node = "probe-test@xquant"
    assert not probe_role("worker", node=node).ok
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "xquant",
            "worker",
            "--pool=solo",
            f"--hostname={node}",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "WARNING",
        ],
        cwd=ROOT,
        env=trader_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: probe_role("worker", node=node).ok, 60, "the worker's answer")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert celery_app.control.ping(destination=[node], timeout=1.0) == []


def test_docker_compose_healthchecks_use_the_probes():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    tests = {
        name: " ".join(services[name]["healthcheck"]["test"])
        for name in ("web", "worker", "beat", "trader")
    }
    assert "/readyz" in tests["web"]
    for role in ("worker", "beat", "trader"):
        assert f"manage.py probe {role}" in tests[role]
    assert set(services["prometheus"]["profiles"]) == {"monitoring"}
    assert set(services["grafana"]["profiles"]) == {"monitoring"}
