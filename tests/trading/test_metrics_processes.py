"""The exporters of the other processes (docs/operations.md "Metrics"): runtrader serves its own
metrics on METRICS_PORT, and a prefork Celery worker serves the sum of its children's
through PROMETHEUS_MULTIPROC_DIR."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT, trader_env, wait_for
from trading.models import TraderHeartbeat
from xquant.celery import app as celery_app

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ticks_served(port: int, symbol: str) -> float | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "xquant_ticks_total" and sample.labels == {"symbol": symbol}:
                return sample.value
    return 0.0


def ticks_ran(symbol: str) -> int:
    beat = TraderHeartbeat.objects.filter(symbol=symbol).first()
    return beat.tick_count if beat else 0


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def test_runtrader_serves_its_tick_counters_on_its_metrics_port():
    port = free_port()
    trader = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "runtrader",
            "--exchange",
            "paper",
            "--interval",
            "0.3",
            "--duration",
            "60",
        ],
        cwd=ROOT,
        env=trader_env(METRICS_PORT=str(port)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ticks = wait_for(lambda: (ticks_served(port, "BTCUSDT") or 0) >= 3, 60, "3 ticks served")
        assert ticks
    finally:
        stop(trader)


def test_a_prefork_worker_serves_the_ticks_its_children_counted(tmp_path):
    celery_app.control.purge()  # tasks other tests queued with no worker to run them
    port = free_port()
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "xquant",
            "worker",
            "--pool=prefork",
            "--concurrency=2",
            "--hostname=metrics-test@%h",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "WARNING",
        ],
        cwd=ROOT,
        env=trader_env(METRICS_PORT=str(port), PROMETHEUS_MULTIPROC_DIR=str(tmp_path)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: ticks_served(port, "ETHUSDT") is not None, 60, "the worker's exporter")
        # One after the other: a tick that finds its symbol's previous one still running
        # is skipped.
        for n in range(1, 7):
            celery_app.send_task("trading.tick", args=["ETHUSDT"])
            wait_for(lambda n=n: ticks_ran("ETHUSDT") == n, 30, f"tick {n}")
        wait_for(lambda: ticks_served(port, "ETHUSDT") == 6, 30, "6 ticks summed")
        # A child counted them (the main process, which serves them, runs no task).
        counted_by = {int(f.stem.split("_")[-1]) for f in tmp_path.glob("counter_*.db")}
        assert counted_by and worker.pid not in counted_by
    finally:
        stop(worker)
