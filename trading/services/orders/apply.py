"""What the exchange reports about an order, applied to its row, its fills and positions."""

from __future__ import annotations

import logging
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from exchanges.base import Exchange, ExchangeOrder, OrderState
from exchanges.base import Fill as ExchangeFill
from exchanges.errors import ExchangeError
from trading.events import OrderUpdated, publish
from trading.models import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    Fill,
    Order,
    OrderAttempt,
    OrderStatus,
    order_can_transition,
)
from trading.notifications import events as notice
from trading.notifications.services import notify
from trading.services.fills import fills_reassign, fills_record

logger = logging.getLogger("trading.orders")

STATUS_FROM_EXCHANGE = {
    OrderState.NEW: OrderStatus.OPEN,
    OrderState.PARTIALLY_FILLED: OrderStatus.PARTIALLY_FILLED,
    OrderState.FILLED: OrderStatus.FILLED,
    OrderState.CANCELED: OrderStatus.CANCELED,
    OrderState.REJECTED: OrderStatus.REJECTED,
    OrderState.EXPIRED: OrderStatus.EXPIRED,
}

_STATE_FIELDS = [
    "exchange_order_id",
    "status",
    "filled_quantity",
    "average_price",
    "closed_at",
    "strategy_update_pending",
    "updated_at",
]

_TOTALS_FIELDS = [
    "filled_quantity",
    "status",
    "closed_at",
    "strategy_update_pending",
    "average_price",
    "updated_at",
]


def order_apply_state(
    *,
    order: Order,
    state: ExchangeOrder,
    exchange: Exchange,
    attempt: OrderAttempt | None = None,
) -> Order:
    """Bring the order in line with what the exchange reports, and record new fills.

    `attempt`, the exchange call that brought the report, is recorded with it. When the
    report says the order filled more, its fills are asked first and recorded with the
    report (order_record_fills); if the exchange has none to give yet, the report is
    written alone and the fills come with a later sync or reconciliation."""
    # Only an order whose first answer was lost learns its id from a lookup (attempt 2 or
    # later), and only then can reconciliation have met its trade first.
    if state.exchange_order_id and not order.exchange_order_id and order.attempt_count > 1:
        _take_exchange_order_id(order, state.exchange_order_id)
    reported = _copy_of(order)
    _state_onto(reported, state)
    if reported.filled_quantity > order.filled_quantity:
        fills = _exchange_fills(reported, exchange)
        if fills:
            order_record_fills(order, fills, state=state, attempt=attempt)
            return order
    with transaction.atomic():
        if attempt is not None:
            attempt.save()
        locked = Order.objects.select_for_update().get(pk=order.pk)
        before = locked.status
        changed, fields = _state_onto(locked, state)
        locked.save(update_fields=fields)
        if changed:
            transaction.on_commit(lambda: publish(OrderUpdated(locked)))
            _notify_if_rejected(before, locked)
    _copy_into(order, locked)
    return order


def _take_exchange_order_id(order: Order, exchange_order_id: str) -> None:
    """Before our order takes its exchange order id: if another row holds that id (a
    trade of ours adopted while our answer was lost and the lookups failed), that row
    is the same exchange order. Its fills move to ours and it is closed with a note, so
    one exchange order is one row, and the fills belong to our order's strategy."""
    with transaction.atomic():
        duplicate = (
            Order.objects.select_for_update()
            .filter(exchange=order.exchange, exchange_order_id=exchange_order_id)
            .exclude(pk=order.pk)
            .first()
        )
        if duplicate is None:
            return
        ours = Order.objects.select_for_update().get(pk=order.pk)
        moved = fills_reassign(source=duplicate, target=ours)
        duplicate.exchange_order_id = None
        duplicate.status = OrderStatus.CANCELED
        duplicate.filled_quantity = Decimal("0")
        duplicate.average_price = None
        duplicate.error_code = "reconcile.merged"
        duplicate.error_message = (
            f"the same exchange order {exchange_order_id} as {ours.client_order_id}, which "
            f"xQuant placed (its answer was lost); merged there with {moved} fill(s)"
        )
        duplicate.closed_at = duplicate.closed_at or timezone.now()
        duplicate.save()
        ours.exchange_order_id = exchange_order_id
        ours.save(update_fields=["exchange_order_id", "updated_at"])
        transaction.on_commit(lambda: publish(OrderUpdated(duplicate)))
    logger.warning(
        "order %s found as exchange order %s, which was recorded as %s: merged (%d fills moved)",
        order.client_order_id,
        exchange_order_id,
        duplicate.client_order_id,
        moved,
    )
    order.refresh_from_db()


def _state_onto(row: Order, state: ExchangeOrder) -> tuple[bool, list[str]]:
    """Apply the exchange's report to the row in memory. Returns whether its status or
    filled quantity changed, and the fields to write."""
    previous = (row.status, row.filled_quantity)
    new_status: str = STATUS_FROM_EXCHANGE[state.status]
    if row.status != new_status and not order_can_transition(row.status, new_status):
        # A stale answer (e.g. "open" after we recorded the fill): keep what we know.
        logger.debug("order %s: ignoring %s after %s", row.client_order_id, new_status, row.status)
        new_status = row.status
    row.exchange_order_id = row.exchange_order_id or state.exchange_order_id or None
    row.status = new_status
    row.filled_quantity = max(row.filled_quantity, min(state.filled_quantity, row.quantity))
    if new_status == OrderStatus.FILLED:
        row.filled_quantity = row.quantity
    if state.average_price:
        row.average_price = state.average_price
    if new_status in TERMINAL_STATUSES and row.closed_at is None:
        row.closed_at = timezone.now()
    fields = list(_STATE_FIELDS)
    if new_status == OrderStatus.REJECTED and not row.error_code:
        row.error_code, row.error_message = "exchange.rejected", "the exchange rejected the order"
        fields += ["error_code", "error_message"]
    changed = previous != (row.status, row.filled_quantity)
    if changed and row.strategy_id is not None:
        row.strategy_update_pending = True
    return changed, fields


def _copy_of(order: Order) -> Order:
    """A copy in memory, to see what a report would change."""
    return Order(**{f.attname: getattr(order, f.attname) for f in Order._meta.concrete_fields})


def _notify_if_rejected(before: str, row: Order) -> None:
    """An order the exchange reports rejected after accepting it (a status update)."""
    if row.status == OrderStatus.REJECTED and before != OrderStatus.REJECTED:
        notify(notice.order_rejected_notice(row))


def _copy_into(order: Order, source: Order) -> None:
    if order is not source:
        for field in order._meta.concrete_fields:
            setattr(order, field.attname, getattr(source, field.attname))


def order_fetch_fills(
    *, order: Order, exchange: Exchange, mark_price: Decimal | None = None
) -> list[Fill]:
    """Record the fills the exchange has for this order that we do not have yet."""
    fills = _exchange_fills(order, exchange)
    return order_record_fills(order, fills, mark_price=mark_price) if fills else []


def _exchange_fills(order: Order, exchange: Exchange) -> list:
    """The exchange's fills of the order; none when it cannot say now (logged: a later
    sync or reconciliation asks again)."""
    if not order.exchange_order_id:
        return []
    try:
        return exchange.fetch_fills(order.symbol, exchange_order_id=order.exchange_order_id)
    except ExchangeError as exc:
        logger.warning(
            "could not fetch fills of %s yet (reconciliation will): %s",
            order.client_order_id,
            exc.message,
        )
        return []


_TOTALS_FIELDS = [
    "filled_quantity",
    "status",
    "closed_at",
    "strategy_update_pending",
    "average_price",
    "updated_at",
]


def order_record_fills(
    order: Order,
    fills: list[ExchangeFill],
    *,
    state: ExchangeOrder | None = None,
    attempt: OrderAttempt | None = None,
    mark_price: Decimal | None = None,
) -> list[Fill]:
    """Record the order's new fills and, in their transaction, what else they change on
    the order: the exchange's report `state` with the `attempt` that brought it, and its
    filled quantity and average price when the fills say more than the order (fills can
    arrive before the status). Returns the new Fill rows."""
    totals = _fills_totals(fills)
    with transaction.atomic():
        if attempt is not None:
            attempt.save()
        # The books first, then the order: every fill recorder takes its locks so.
        recorded = fills_record(order=order, fills=fills, mark_price=mark_price)
        row = Order.objects.select_for_update().get(pk=order.pk)
        changed, fields = _order_update_onto(row, state, totals)
        if fields:
            row.save(update_fields=fields)
        if changed:
            transaction.on_commit(lambda: publish(OrderUpdated(row)))
    _copy_into(order, row)
    return recorded


def _order_update_onto(
    row: Order, state: ExchangeOrder | None, totals: tuple[Decimal, Decimal] | None
) -> tuple[bool, list[str]]:
    """The exchange's report (if any) applied to the row in memory, then the fills'
    totals when they say more than it: whether its status or filled quantity changed,
    and the fields to write."""
    changed, fields = _state_onto(row, state) if state is not None else (False, [])
    if totals is not None and (totals[0] > row.filled_quantity or row.average_price != totals[1]):
        changed = _totals_onto(row, *totals) or changed
        fields = [*fields, *(f for f in _TOTALS_FIELDS if f not in fields)]
    return changed, fields


def _fills_totals(fills: list) -> tuple[Decimal, Decimal] | None:
    """(quantity, average price) of the fills; None without any."""
    quantity = sum((f.quantity for f in fills), Decimal("0"))
    if quantity <= 0:
        return None
    average = (sum((f.quantity * f.price for f in fills), Decimal("0")) / quantity).quantize(
        Decimal("0.000000000001")
    )
    return quantity, average


def _totals_onto(row: Order, quantity: Decimal, average: Decimal) -> bool:
    """Apply the fills' totals to the row in memory; True if it filled more."""
    filled_more = quantity > row.filled_quantity
    if filled_more:
        row.filled_quantity = min(quantity, row.quantity)
        if row.status in (OrderStatus.OPEN, OrderStatus.SUBMITTING):
            row.status = OrderStatus.PARTIALLY_FILLED
        if row.filled_quantity == row.quantity and row.status in ACTIVE_STATUSES:
            row.status = OrderStatus.FILLED
            row.closed_at = row.closed_at or timezone.now()
        row.strategy_update_pending = row.strategy_id is not None
    row.average_price = average
    return filled_more
