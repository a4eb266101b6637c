"""Celery tasks of the research side: ids in, services called; and the one way a run is
queued for them. This module imports the services, never the other way round."""

from __future__ import annotations

import threading
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import connections, transaction

from prediction.models import BacktestRun
from prediction.services.backtests import backtest_run_create, backtest_run_execute


@shared_task(name="prediction.backtest_execute", acks_late=True)
def backtest_execute(run_id: int) -> str:
    # No retry: a failed backtest is recorded on the run; running it again changes nothing.
    return backtest_run_execute(run_id=run_id).status


def backtest_run_launch(**kwargs: Any) -> BacktestRun:
    """Create a run (backtest_run_create's arguments) and execute it after the transaction
    commits: on a Celery worker, or, in embedded mode (no broker), on a thread beside the
    web server, so that a long run does not hold the request (and with it every other
    page) until it ends. The API view and the Backtests page both launch through here."""
    run = backtest_run_create(**kwargs)
    if settings.REDIS_URL:
        transaction.on_commit(lambda: backtest_execute.delay(run.pk))
    else:
        transaction.on_commit(
            lambda: threading.Thread(
                target=_execute_in_thread, args=(run.pk,), name=f"backtest-{run.pk}", daemon=True
            ).start()
        )
    return run


def _execute_in_thread(run_id: int) -> None:
    try:
        backtest_run_execute(run_id=run_id)
    finally:
        connections.close_all()
