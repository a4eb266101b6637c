"""Celery tasks of the notifications: each calls one service with plain values. The
retry policy is the service's (notification_send plans its own retries), because the
embedded background thread runs the same functions without a broker."""

from __future__ import annotations

from celery import shared_task

from trading.notifications import services


@shared_task(name="notifications.dispatch", ignore_result=True)
def dispatch(notices: list[dict[str, str]]) -> None:
    services.notifications_dispatch(notices)


@shared_task(name="notifications.flush", ignore_result=True)
def flush(target_id: int) -> None:
    services.notification_target_flush(target_id)


@shared_task(name="notifications.send", ignore_result=True)
def send(target_id: int, title: str, body: str, attempt: int = 0) -> None:
    services.notification_send(target_id, title, body, attempt)


@shared_task(name="notifications.check_stale", ignore_result=True)
def check_stale() -> None:
    services.trader_stale_check()


@shared_task(name="notifications.daily_summary", ignore_result=True)
def daily_summary() -> None:
    services.daily_summary_send()
