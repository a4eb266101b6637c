"""Celery beat schedules (django-celery-beat, editable in the admin)."""

from __future__ import annotations

import json
import math

from django_celery_beat.models import IntervalSchedule, PeriodicTask

RECONCILE_EVERY_SECONDS = 60


def _interval(seconds: float) -> IntervalSchedule:
    schedule, _ = IntervalSchedule.objects.get_or_create(
        every=max(1, math.ceil(seconds)), period=IntervalSchedule.SECONDS
    )
    return schedule


def schedules_sync(*, symbols: list[str], tick_seconds: float) -> list[PeriodicTask]:
    """Create the tick task of each symbol and the reconciliation task when missing.

    Existing tasks are left as the operator edited them (interval, enabled).
    """
    tasks = []
    for symbol in symbols:
        task, _ = PeriodicTask.objects.get_or_create(
            name=f"tick {symbol}",
            defaults={
                "task": "trading.tick",
                "interval": _interval(tick_seconds),
                "args": json.dumps([symbol]),
                # A tick that could not start in time is superseded by the next one.
                "expire_seconds": max(1, math.ceil(tick_seconds)),
            },
        )
        tasks.append(task)
    task, _ = PeriodicTask.objects.get_or_create(
        name="reconcile",
        defaults={"task": "trading.reconcile", "interval": _interval(RECONCILE_EVERY_SECONDS)},
    )
    tasks.append(task)
    return tasks
