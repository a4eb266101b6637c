"""Celery worker processes for the benchmark and the tests: started as `celery -A
xquant worker --pool=solo` subprocesses (one process each, so killing one is killing a
whole worker), with the broker of a given Redis URL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from kombu import Connection

from xquant.celery import app

ROOT = Path(__file__).resolve().parents[2]


def workers_start(
    count: int, *, env: dict[str, str], prefix: str = "research", log_dir: Path | None = None
) -> list[subprocess.Popen]:
    procs = []
    for k in range(count):
        log = (
            open(log_dir / f"{prefix}-{k + 1}.log", "w")  # noqa: SIM115
            if log_dir
            else subprocess.DEVNULL
        )
        procs.append(
            subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "xquant",
                    "worker",
                    "--pool=solo",
                    f"--hostname={prefix}-{k + 1}-{os.getpid()}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-l",
                    "WARNING",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT if log_dir else subprocess.DEVNULL,
                start_new_session=True,
            )
        )
    return procs


def workers_wait_ready(count: int, *, broker_url: str, timeout: float = 60.0) -> int:
    """Wait until `count` workers answer a ping on the broker; returns how many did."""
    deadline = time.monotonic() + timeout
    seen = 0
    with Connection(broker_url) as conn:
        while time.monotonic() < deadline:
            seen = len(app.control.ping(timeout=1.0, connection=conn) or [])
            if seen >= count:
                return seen
            time.sleep(0.3)
    raise TimeoutError(f"{seen} of {count} Celery workers answered within {timeout:.0f} s")


def workers_stop(procs: list[subprocess.Popen], *, timeout: float = 20.0) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=timeout)


def worker_kill(proc: subprocess.Popen) -> None:
    """SIGKILL: no shutdown, no acknowledgement, the trial in hand simply stops."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def chains_enqueue(study_id: int, count: int, *, broker_url: str) -> None:
    """Start a study's chains on a given broker (the workers' links then queue there)."""
    from prediction.research.tasks import study_trial_chain

    with Connection(broker_url) as conn:
        for _ in range(count):
            study_trial_chain.apply_async((study_id,), connection=conn)
