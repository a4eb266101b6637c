"""What a reconciliation pass did, and how far back it looks."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction

from exchanges.base import Exchange
from trading.models import ReconcileIssue
from trading.notifications import events as notice
from trading.notifications.services import notify

logger = logging.getLogger("trading.reconciliation")

#: How far back fills are compared when we have none recorded for a symbol.
FILL_LOOKBACK = timedelta(days=1)
#: How long an order whose fills could not be fetched is asked about again.
OWED_FILLS_LOOKBACK = timedelta(days=7)


@dataclass
class ReconcileReport:
    resolved_orders: list[str] = field(default_factory=list)
    adopted_orders: list[str] = field(default_factory=list)
    adopted_fills: list[str] = field(default_factory=list)
    corrected_positions: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: (symbol, subject) of what needs attention after this pass (see ReconcileIssue).
    attention: set[tuple[str, str]] = field(default_factory=set)

    @property
    def changed(self) -> bool:
        return bool(
            self.resolved_orders
            or self.adopted_orders
            or self.adopted_fills
            or self.corrected_positions
        )

    def summary(self) -> str:
        return (
            f"{len(self.resolved_orders)} orders resolved, {len(self.adopted_orders)} orders adopted, "
            f"{len(self.adopted_fills)} fills adopted, {len(self.corrected_positions)} positions corrected"
            + (f", {len(self.errors)} errors" if self.errors else "")
        )


def needs_attention(
    exchange: Exchange, symbol: str, subject: str, message: str, report: ReconcileReport
) -> None:
    """Record what this pass could not settle, and leave it open until one does."""
    label = f"{symbol} {subject}".rstrip()
    report.errors.append(f"{label}: {message}")
    report.attention.add((symbol, subject))
    logger.warning("reconciliation of %s: %s", label, message)
    with transaction.atomic():
        issue = (
            ReconcileIssue.objects.open()
            .select_for_update()
            .filter(exchange=exchange.name, symbol=symbol, subject=subject)
            .first()
        )
        if issue is None:
            issue = ReconcileIssue.objects.create(
                exchange=exchange.name, symbol=symbol, subject=subject, message=message
            )
            notify(notice.reconcile_notice(issue))
        else:
            issue.message = message
            issue.occurrences += 1
            issue.save(update_fields=["message", "occurrences", "last_seen_at"])
