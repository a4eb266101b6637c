"""Celery beat schedules (django-celery-beat, editable in the admin)."""

from __future__ import annotations

import json
import math

from django.conf import settings
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

RECONCILE_EVERY_SECONDS = 60
STALE_CHECK_EVERY_SECONDS = 30


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
    tasks.extend(_notification_schedules())
    return tasks


def _notification_schedules() -> list[PeriodicTask]:
    """The stale-trader check, and the daily summary at the trading day's reset hour."""
    stale, _ = PeriodicTask.objects.get_or_create(
        name="notify: trader stale",
        defaults={
            "task": "notifications.check_stale",
            "interval": _interval(STALE_CHECK_EVERY_SECONDS),
        },
    )
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="1",
        hour=str(settings.RISK_DAY_RESET_HOUR_UTC),
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone="UTC",
    )
    summary, _ = PeriodicTask.objects.get_or_create(
        name="notify: daily summary",
        defaults={"task": "notifications.daily_summary", "crontab": crontab},
    )
    return [stale, summary]
