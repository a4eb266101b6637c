"""Celery tasks of the research side: ids in, services called."""

from __future__ import annotations

from celery import shared_task

from prediction.services.backtests import backtest_run_execute


@shared_task(name="prediction.backtest_execute", acks_late=True)
def backtest_execute(run_id: int) -> str:
    # No retry: a failed backtest is recorded on the run; running it again changes nothing.
    return backtest_run_execute(run_id=run_id).status
