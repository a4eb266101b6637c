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
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import DecimalField, F, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from exchanges.base import Exchange, ExchangeOrder, ExchangePosition
from exchanges.errors import ExchangeError, OrderNotFoundError
from trading.models import (
    ActivityKind,
    Fill,
    Order,
    OrderSource,
    OrderStatus,
    Position,
    ReconcileIssue,
)
from trading.notifications import events as notice
from trading.notifications.services import notify
from trading.services.activity import activity_record
from trading.services.fills import fills_record, publish_position
from trading.services.leases import lease_is_held_elsewhere
from trading.services.orders import (
    DEFAULT_RETRY_POLICY,
    STATUS_FROM_EXCHANGE,
    RetryPolicy,
    order_apply_state,
    order_fetch_fills,
    order_submit,
    orders_sync,
    publish_order,
)

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
            _adopt_open_orders(exchange, symbol, report)
            # The exchange's positions are read before its trades, so every trade they
            # include is recorded (by this pass or another process) when they are compared.
            theirs, read_at = _exchange_positions(exchange, symbol), timezone.now()
            _adopt_fills(exchange, symbol, report)
            _correct_positions(exchange, symbol, theirs, read_at, report)
        except Exception as exc:
            _needs_attention(exchange, symbol, "", _failure_text(exc), report)
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


def _needs_attention(
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
            _needs_attention(exchange, symbol, order.client_order_id, _failure_text(exc), report)
            continue
        if order.status != before:
            report.resolved_orders.append(f"{order.client_order_id}: {before} → {order.status}")
        if order.status == OrderStatus.SUBMITTING:
            _needs_attention(
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
            _needs_attention(
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


def _adopt_open_orders(exchange: Exchange, symbol: str, report: ReconcileReport) -> None:
    for state in exchange.fetch_open_orders(symbol):
        if Order.objects.filter(client_order_id=state.client_order_id).exists():
            continue
        order = _adopt_order(exchange, state)
        report.adopted_orders.append(order.client_order_id)
        order_fetch_fills(order=order, exchange=exchange)


def _adopt_order(exchange: Exchange, state: ExchangeOrder) -> Order:
    status = STATUS_FROM_EXCHANGE[state.status]
    order = Order.objects.create(
        client_order_id=state.client_order_id[:36],
        exchange=exchange.name,
        exchange_order_id=state.exchange_order_id,
        symbol=state.symbol,
        side=state.side,
        order_type=state.order_type,
        position_side=state.position_side,
        reduce_only=state.reduce_only and state.position_side == "BOTH",
        quantity=state.quantity,
        price=state.price,
        status=status,
        filled_quantity=state.quantity if status == OrderStatus.FILLED else state.filled_quantity,
        average_price=state.average_price,
        source=OrderSource.RECONCILIATION,
        reason="found on the exchange, not placed by xQuant",
        submitted_at=state.updated_at,
    )
    logger.warning(
        "adopted %s order %s found only on the exchange", state.symbol, order.client_order_id
    )
    transaction.on_commit(lambda: publish_order(order))
    return order


def _adopt_fills(exchange: Exchange, symbol: str, report: ReconcileReport) -> None:
    latest = (
        Fill.objects.filter(exchange=exchange.name, symbol=symbol)
        .order_by("-executed_at")
        .values_list("executed_at", flat=True)
        .first()
    )
    since = (latest - timedelta(minutes=5)) if latest else timezone.now() - FILL_LOOKBACK
    fills = exchange.fetch_fills(symbol, since=since)
    by_exchange_id: dict[str, list] = {}
    for fill in fills:
        by_exchange_id.setdefault(fill.exchange_order_id, []).append(fill)
    for exchange_order_id, order_fills in by_exchange_id.items():
        order = Order.objects.filter(
            exchange=exchange.name, symbol=symbol, exchange_order_id=exchange_order_id
        ).first()
        if order is None:
            try:
                order = _owner_of_trades(exchange, symbol, exchange_order_id, order_fills, report)
            except ExchangeError as exc:
                _needs_attention(
                    exchange,
                    symbol,
                    f"trade-of:{exchange_order_id}",
                    f"{len(order_fills)} trade(s) of exchange order {exchange_order_id} not "
                    f"recorded yet: the exchange could not say whose order it is ({exc.message})",
                    report,
                )
                continue
        for row in fills_record(order=order, fills=order_fills):
            report.adopted_fills.append(row.trade_id)


def _owner_of_trades(
    exchange: Exchange, symbol: str, exchange_order_id: str, fills: list, report
) -> Order:
    """The order row of trades no row claims yet. Trades carry no client order id, so
    the exchange is asked for the order: one of ours whose answer was lost (and whose
    lookups failed) takes its exchange order id and the trades; anything else is a
    stranger's order, adopted."""
    try:
        state = exchange.fetch_order_by_exchange_id(symbol, exchange_order_id)
    except OrderNotFoundError:
        state = None  # e.g. archived by the exchange: what the trades say is all there is
    ours = (
        Order.objects.filter(exchange=exchange.name, client_order_id=state.client_order_id).first()
        if state is not None and state.client_order_id
        else None
    )
    if ours is not None:
        before = ours.status
        order_apply_state(order=ours, state=state, exchange=exchange)
        report.resolved_orders.append(f"{ours.client_order_id}: {before} → {ours.status}")
        return ours
    if state is not None:
        order = _adopt_order(exchange, state)
    else:
        order = _adopt_order_from_fills(exchange, symbol, exchange_order_id, fills)
    report.adopted_orders.append(order.client_order_id)
    return order


def _adopt_order_from_fills(exchange, symbol, exchange_order_id, fills) -> Order:
    """A trade of an order we never saw (placed elsewhere and already finished): the
    order is recorded from its fills, as filled."""
    quantity = sum((f.quantity for f in fills), Decimal("0"))
    cost = sum((f.quantity * f.price for f in fills), Decimal("0"))
    first = fills[0]
    known_id = next((f.client_order_id for f in fills if f.client_order_id), None)
    client_order_id = (
        known_id
        if known_id and not Order.objects.filter(client_order_id=known_id).exists()
        else None
    )
    order = Order.objects.create(
        client_order_id=(client_order_id or f"adopted-{exchange_order_id}")[:36],
        exchange=exchange.name,
        exchange_order_id=exchange_order_id,
        symbol=symbol,
        side=first.side,
        order_type="MARKET",
        position_side=first.position_side,
        quantity=quantity,
        status=OrderStatus.FILLED,
        filled_quantity=quantity,
        average_price=(cost / quantity).quantize(Decimal("0.000000000001")),
        source=OrderSource.RECONCILIATION,
        reason="trades found on the exchange for an order xQuant did not place",
        submitted_at=first.executed_at,
        closed_at=fills[-1].executed_at,
    )
    logger.warning(
        "adopted %s order %s from %d fills found only on the exchange",
        symbol,
        exchange_order_id,
        len(fills),
    )
    return order


def _exchange_positions(exchange: Exchange, symbol: str) -> dict[str, ExchangePosition]:
    return {p.position_side: p for p in exchange.fetch_positions([symbol]) if p.symbol == symbol}


def _correct_positions(
    exchange: Exchange,
    symbol: str,
    theirs: dict[str, ExchangePosition],
    read_at: datetime,
    report: ReconcileReport,
) -> None:
    """Take the exchange's positions where the record differs, but only when nothing can
    still move the record: an order in flight may have a fill on the exchange that its
    sender has yet to write, and a fill written since the positions were read may be
    newer than they are. Either way the next pass compares again."""
    ours = {
        p.position_side: p for p in Position.objects.filter(exchange=exchange.name, symbol=symbol)
    }
    differ = [
        side
        for side in set(theirs) | set(ours)
        if (theirs[side].quantity if side in theirs else Decimal("0"))
        != (ours[side].quantity if side in ours else Decimal("0"))
    ]
    if not differ:
        return
    in_flight = Order.objects.filter(
        exchange=exchange.name,
        symbol=symbol,
        status__in=[OrderStatus.PENDING, OrderStatus.SUBMITTING],
    ).exists()
    moved_since = Fill.objects.filter(
        exchange=exchange.name, symbol=symbol, created_at__gte=read_at
    ).exists()
    if in_flight or moved_since or any(s == symbol for s, _ in report.attention):
        logger.info(
            "%s position differs from the exchange's, left for the next pass: %s",
            symbol,
            "an order is in flight" if in_flight else "fills arrived meanwhile",
        )
        return
    for side in differ:
        exchange_position = theirs.get(side)
        quantity = exchange_position.quantity if exchange_position else Decimal("0")
        position = ours.get(side)
        position = position or Position(exchange=exchange.name, symbol=symbol, position_side=side)
        logger.warning(
            "%s %s position: record says %s, exchange says %s; taking the exchange's",
            symbol,
            side,
            position.quantity,
            quantity,
        )
        report.corrected_positions.append(
            f"{symbol} {side}: {position.quantity.normalize():f} → {quantity.normalize():f}"
        )
        position.quantity = quantity
        position.entry_price = (
            exchange_position.entry_price if exchange_position and quantity else Decimal("0")
        )
        if exchange_position and exchange_position.mark_price:
            position.mark_price = exchange_position.mark_price
            position.unrealized_pnl = exchange_position.unrealized_pnl
        elif quantity == 0:
            position.unrealized_pnl = Decimal("0")
        position.save()
        publish_position(position)
