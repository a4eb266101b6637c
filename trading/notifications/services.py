"""Notifications: queued by the trading services, gathered per target, sent by apprise.

- `notify(...)` is the one call a trading service makes. It only queues, after the
  current transaction commits: nothing is sent from a tick or a request.
- `notifications_dispatch` (a Celery task, or the embedded thread) stores each notice
  for every target subscribed to its kind and plans that target's next send.
- `notification_target_flush` sends what gathered: one notice as it is, several as one
  digest. A target sends at most once per `min_interval_seconds`, and waits
  NOTIFY_GATHER_SECONDS after a first notice so a burst (a fill storm) is one message.
- `notification_send` delivers with bounded retries (NOTIFY_RETRIES, backoff from
  NOTIFY_RETRY_SECONDS), then gives up, logged and kept on the target as last_error.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from trading.notifications.delivery import DeliveryFailed, deliver
from trading.notifications.events import Notice, trader_stale_notice
from trading.notifications.models import EventKind, NotificationTarget, PendingNotice
from trading.notifications.runner import run_later

logger = logging.getLogger("trading.notifications")

#: A digest lists this many notices; the rest are counted.
DIGEST_LINES = 20
#: A target whose planned send is this late gets another plan (a lost task, a restart).
OVERDUE = timedelta(seconds=60)


def notify(*notices: Notice | None) -> None:
    """Queue notices for their subscribers once the current transaction commits."""
    payload = [n.as_dict() for n in notices if n is not None]
    if payload:
        transaction.on_commit(lambda: _enqueue(payload))


def _enqueue(payload: list[dict[str, str]]) -> None:
    try:
        run_later("notifications.dispatch", notifications_dispatch, (payload,))
    except Exception:  # a broker outage must not reach the trade that committed
        logger.warning("could not queue %d notification(s)", len(payload), exc_info=True)


def _due(target: NotificationTarget, first_pending_at: datetime) -> datetime:
    due = first_pending_at + timedelta(seconds=settings.NOTIFY_GATHER_SECONDS)
    if target.last_sent_at is not None:
        due = max(due, target.last_sent_at + timedelta(seconds=target.min_interval_seconds))
    return due


def notifications_dispatch(notices: list[dict[str, str]]) -> int:
    """Store the notices for each subscribed target; returns how many were stored."""
    stored = 0
    for target in NotificationTarget.objects.filter(enabled=True):
        wanted = [n for n in notices if n["kind"] in target.kinds]
        if not wanted:
            continue
        with transaction.atomic():
            # Dispatchers of one target queue here, so exactly one plans its send.
            locked = NotificationTarget.objects.select_for_update().get(pk=target.pk)
            first = locked.pending.values_list("created_at", flat=True).first()
            PendingNotice.objects.bulk_create(
                PendingNotice(target=locked, kind=n["kind"], title=n["title"][:200], body=n["body"])
                for n in wanted
            )
        stored += len(wanted)
        now = timezone.now()
        due = _due(locked, first or now)
        if first is None or now > due + OVERDUE:
            _plan_flush(locked.pk, due, now)
    return stored


def _plan_flush(target_id: int, due: datetime, now: datetime) -> None:
    delay = max(0.0, (due - now).total_seconds())
    run_later("notifications.flush", notification_target_flush, (target_id,), delay)


def notification_target_flush(target_id: int) -> str:
    """Send what gathered for a target if its time has come (else plan it again)."""
    now = timezone.now()
    with transaction.atomic():
        target = NotificationTarget.objects.select_for_update().filter(pk=target_id).first()
        if target is None:
            return "gone"
        pending = list(target.pending.all())
        if not pending:
            return "nothing"
        if not target.enabled:
            PendingNotice.objects.filter(target=target).delete()
            return "disabled"
        due = _due(target, pending[0].created_at)
        if due > now:
            transaction.on_commit(lambda: _plan_flush(target_id, due, now))
            return "later"
        PendingNotice.objects.filter(pk__in=[p.pk for p in pending]).delete()
        target.last_sent_at = now
        target.save(update_fields=["last_sent_at"])
    title, body = digest(pending)
    return notification_send(target_id, title, body, 0)


def digest(pending: list[PendingNotice] | list[Notice]) -> tuple[str, str]:
    """One notice as it is; several as one message that counts them by kind."""
    if len(pending) == 1:
        return pending[0].title, pending[0].body
    counts = Counter(EventKind(p.kind).label for p in pending)
    title = (
        f"xQuant: {len(pending)} notifications ("
        + ", ".join(f"{n} × {label}" for label, n in counts.most_common())
        + ")"
    )
    lines = [f"- {p.title}" for p in pending[:DIGEST_LINES]]
    if len(pending) > DIGEST_LINES:
        lines.append(f"… and {len(pending) - DIGEST_LINES} more")
    return title, "\n".join(lines)


def notification_send(target_id: int, title: str, body: str, attempt: int = 0) -> str:
    """Deliver one message; on failure plan a retry, or give up after NOTIFY_RETRIES."""
    target = NotificationTarget.objects.filter(pk=target_id, enabled=True).first()
    if target is None:
        return "disabled"
    try:
        deliver(url=target.url, title=title, body=body)
    except DeliveryFailed as exc:
        if exc.permanent or attempt >= settings.NOTIFY_RETRIES:
            # The target's name only: its URL holds its credentials.
            logger.error(
                "notification target %s: gave up after %d attempt(s): %s",
                target.name,
                attempt + 1,
                exc.message,
            )
            NotificationTarget.objects.filter(pk=target_id).update(
                last_error=f"{timezone.now():%Y-%m-%d %H:%M:%S} gave up: {exc.message}"
            )
            return "given up"
        delay = settings.NOTIFY_RETRY_SECONDS * 2**attempt
        logger.warning(
            "notification target %s: %s; retry %d in %.1f s",
            target.name,
            exc.message,
            attempt + 1,
            delay,
        )
        run_later(
            "notifications.send", notification_send, (target_id, title, body, attempt + 1), delay
        )
        return "retrying"
    if target.last_error:
        NotificationTarget.objects.filter(pk=target_id).update(last_error="")
    return "sent"


def notification_target_test(*, target: NotificationTarget) -> None:
    """The admin's "send test message": queued like any other send, not subscribed."""
    run_later(
        "notifications.send",
        notification_send,
        (target.pk, "xQuant test message", f"Target {target.name} is reachable.", 0),
    )


# --- checks run by beat ---------------------------------------------------------------


def _stale_key(symbol: str) -> str:
    return f"notifications:stale:{symbol}"


def trader_stale_check(*, now: datetime | None = None) -> list[str]:
    """Notify once when symbols stop ticking (again once they have ticked since);
    returns the symbols newly found stale."""
    from trading.selectors import heartbeat_stale_after, trader_heartbeats

    beats = trader_heartbeats(now=now)
    newly = []
    for beat in beats:
        if not beat["stale"]:
            cache.delete(_stale_key(beat["symbol"]))
        elif cache.add(_stale_key(beat["symbol"]), True, timeout=None):
            newly.append(beat)
    if newly:
        notify(
            trader_stale_notice(newly, stale_after_seconds=heartbeat_stale_after().total_seconds())
        )
    return [b["symbol"] for b in newly]


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def daily_summary_notice(*, now: datetime | None = None) -> Notice:
    """The trading day that ended last: PnL, trades and fees by symbol and strategy."""
    from trading.models import Fill
    from trading.services.risk import risk_limits_get, trading_day_start

    now = now or timezone.now()
    end = trading_day_start(now, risk_limits_get().day_reset_hour_utc)
    start = end - timedelta(days=1)
    rows = (
        Fill.objects.filter(executed_at__gte=start, executed_at__lt=end)
        .values("symbol", "strategy__name")
        .annotate(trades=Count("id"), realized=Sum("realized_pnl"), fees=Sum("fee"))
        .order_by("symbol", "strategy__name")
    )
    total: dict[str, Any] = {"trades": 0, "realized": Decimal(0), "fees": Decimal(0)}
    lines = []
    for row in rows:
        for key in total:
            total[key] += row[key]
        lines.append(
            f"- {row['symbol']} {row['strategy__name'] or 'manual'}: {row['trades']} trade(s), "
            f"realised PnL {_money(row['realized'])}, fees {_money(row['fees'])}, "
            f"net {_money(row['realized'] - row['fees'])}"
        )
    title = (
        f"Daily summary {start:%Y-%m-%d %H:%M}–{end:%Y-%m-%d %H:%M} UTC: net PnL "
        f"{_money(total['realized'] - total['fees'])} over {total['trades']} trade(s)"
    )
    body = "\n".join(lines) or "no trades"
    return Notice(EventKind.DAILY_SUMMARY, title, body)


def daily_summary_send(*, now: datetime | None = None) -> None:
    notify(daily_summary_notice(now=now))
