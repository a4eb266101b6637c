"""Reconciliation, both ways, at start-up and periodically while trading.

- Ours but not settled: PENDING orders are submitted (or cancelled as stale);
  SUBMITTING ones are looked up by client order id and resolved; open ones are followed
  for fills and status; an order the exchange does not know is resolved, with a message.
- Theirs but not ours: open orders, fills and positions that exist only on the exchange
  are adopted (source "reconciliation"), so the record matches the account.

Nothing is dropped silently: every change is logged and counted in the report.
Failures are isolated: an order or a symbol that cannot be settled now is logged and
left as an open ReconcileIssue (on the dashboard and in /api/health) while the rest go
on; a later pass that settles it closes the issue. Reconciliation never raises for one
record, so a trader that starts with one starts all the same.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

from django.db.models import DecimalField, F, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from exchanges.base import Exchange
from exchanges.errors import ExchangeError
from trading.models import ActivityKind, Order, OrderStatus, ReconcileIssue
from trading.services.activity import activity_record
from trading.services.fills import fills_record
from trading.services.leases import lease_is_held_elsewhere
from trading.services.orders import (
    DEFAULT_RETRY_POLICY,
    RetryPolicy,
    order_submit,
    orders_sync,
)
from trading.services.reconciliation.adopt import adopt_fills, adopt_open_orders
from trading.services.reconciliation.positions import correct_positions, exchange_positions
from trading.services.reconciliation.report import (
    FILL_LOOKBACK,
    OWED_FILLS_LOOKBACK,
    ReconcileReport,
    needs_attention,
)

logger = logging.getLogger("trading.reconciliation")

__all__ = ["FILL_LOOKBACK", "OWED_FILLS_LOOKBACK", "ReconcileReport", "reconcile"]


def reconcile(
    *,
    exchange: Exchange,
    symbols: list[str],
    settle_after: timedelta = timedelta(seconds=0),
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
) -> ReconcileReport:
    """Bring the record and the exchange account into agreement for these symbols.

    `settle_after` leaves alone PENDING/SUBMITTING orders younger than that (a running
    trader is still working them); at start-up it is zero.
    """
    report = ReconcileReport()
    for symbol in symbols:
        try:
            _settle_unsent(exchange, symbol, settle_after, policy, report)
            orders_sync(exchange=exchange, symbol=symbol)
            _collect_owed_fills(exchange, symbol, report)
            adopt_open_orders(exchange, symbol, report)
            # The exchange's positions are read before its trades, so every trade they
            # include is recorded (by this pass or another process) when they are compared.
            theirs, read_at = exchange_positions(exchange, symbol), timezone.now()
            adopt_fills(exchange, symbol, report)
            correct_positions(exchange, symbol, theirs, read_at, report)
        except Exception as exc:
            needs_attention(exchange, symbol, "", _failure_text(exc), report)
            continue
        _issues_settled(exchange, symbol, report)
    if report.changed or report.errors:
        logger.warning("reconciliation: %s", report.summary())
        details = [
            *report.resolved_orders,
            *report.adopted_orders,
            *report.adopted_fills,
            *report.corrected_positions,
            *report.errors,
        ]
        activity_record(
            kind=ActivityKind.RECONCILIATION,
            level="error" if report.errors else "warning",
            symbol=symbols[0] if len(symbols) == 1 else "",
            message=f"Reconciliation of {', '.join(symbols)}: {report.summary()}"
            + (
                f" ({'; '.join(details[:5])}{'; …' if len(details) > 5 else ''})" if details else ""
            ),
        )
    else:
        logger.info("reconciliation: record and exchange agree for %s", ", ".join(symbols))
    return report


def _failure_text(exc: Exception) -> str:
    if isinstance(exc, ExchangeError):
        return f"incomplete: {exc.message}"
    # Not the exchange: a bug or the database. Logged with its traceback, named here.
    logger.exception("reconciliation failed unexpectedly")
    return f"incomplete: {type(exc).__name__}: {exc}"


def _issues_settled(exchange: Exchange, symbol: str, report: ReconcileReport) -> None:
    """A pass of the symbol went through: what it did not find wrong again is settled."""
    open_issues = ReconcileIssue.objects.open().filter(exchange=exchange.name, symbol=symbol)
    settled = [i.pk for i in open_issues if (symbol, i.subject) not in report.attention]
    if settled:
        ReconcileIssue.objects.filter(pk__in=settled).update(resolved_at=timezone.now())
        logger.info("reconciliation of %s: %d issue(s) settled", symbol, len(settled))


def _settle_unsent(exchange, symbol, settle_after, policy, report) -> None:
    cutoff = timezone.now() - settle_after
    for order in Order.objects.filter(
        exchange=exchange.name,
        symbol=symbol,
        status__in=[OrderStatus.PENDING, OrderStatus.SUBMITTING],
        updated_at__lte=cutoff,
    ):
        if lease_is_held_elsewhere(order, timezone.now()):
            continue  # its sender is still at it (e.g. the web API, a worker)
        before = order.status
        try:
            order = order_submit(order=order, exchange=exchange, policy=policy)
        except Exception as exc:
            needs_attention(exchange, symbol, order.client_order_id, _failure_text(exc), report)
            continue
        if order.status != before:
            report.resolved_orders.append(f"{order.client_order_id}: {before} → {order.status}")
        if order.status == OrderStatus.SUBMITTING:
            needs_attention(
                exchange,
                symbol,
                order.client_order_id,
                "sent, but the exchange could not yet say whether it has the order",
                report,
            )


def _collect_owed_fills(exchange: Exchange, symbol: str, report: ReconcileReport) -> None:
    """Orders the exchange says filled more than their recorded fills: their fills could
    not be fetched when the order moved (the exchange failed that read). A finished
    order is never followed again, so they are asked for here, whatever their age."""
    owed = (
        Order.objects.filter(
            exchange=exchange.name,
            symbol=symbol,
            filled_quantity__gt=0,
            updated_at__gte=timezone.now() - OWED_FILLS_LOOKBACK,
        )
        .exclude(exchange_order_id=None)
        .annotate(
            recorded=Coalesce(
                Sum("fills__quantity"), Value(Decimal("0")), output_field=DecimalField()
            )
        )
        .filter(recorded__lt=F("filled_quantity"))
    )
    for order in owed:
        try:
            fills = exchange.fetch_fills(symbol, exchange_order_id=order.exchange_order_id)
        except ExchangeError as exc:
            needs_attention(
                exchange,
                symbol,
                order.client_order_id,
                f"filled {order.filled_quantity.normalize():f} but only "
                f"{order.recorded.normalize():f} recorded; the fills could not be fetched "
                f"({exc.message})",
                report,
            )
            continue
        for row in fills_record(order=order, fills=fills):
            report.adopted_fills.append(row.trade_id)
