"""An order closed by us rather than by the exchange: rejected, cancelled before it was
sent, or expired because the exchange no longer knows it. Each is decided under the
order's row lock and never overwrites a final status."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from trading.events import OrderUpdated, publish
from trading.models import TERMINAL_STATUSES, Order, OrderStatus
from trading.notifications import events as notice
from trading.notifications.services import notify

logger = logging.getLogger("trading.orders")


def order_reject(order: Order, code: str, message: str) -> Order:
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status in TERMINAL_STATUSES:
            return locked
        locked.status = OrderStatus.REJECTED
        locked.error_code = code[:64]
        locked.error_message = message
        locked.closed_at = timezone.now()
        locked.strategy_update_pending = locked.strategy_id is not None
        locked.save()
        transaction.on_commit(lambda: publish(OrderUpdated(locked)))
        notify(notice.order_rejected_notice(locked))
    logger.warning("order %s rejected [%s]: %s", locked.client_order_id, code, message)
    order.refresh_from_db()
    return order


# --- applying exchange state ----------------------------------------------------------


_STATE_FIELDS = [
    "exchange_order_id",
    "status",
    "filled_quantity",
    "average_price",
    "closed_at",
    "strategy_update_pending",
    "updated_at",
]


def order_cancel_unsent(order: Order, message: str) -> Order:
    moved = Order.objects.filter(pk=order.pk, status=OrderStatus.PENDING).update(
        status=OrderStatus.CANCELED,
        error_code="not_sent",
        error_message=message,
        closed_at=timezone.now(),
        updated_at=timezone.now(),
        strategy_update_pending=order.strategy_id is not None,
    )
    order.refresh_from_db()
    if moved:
        logger.warning("order %s cancelled unsent: %s", order.client_order_id, message)
        publish(OrderUpdated(order))
    return order


def order_expire_unknown(order: Order) -> Order:
    """The exchange has no such order although we recorded it open: it is over. Which
    way it ended cannot be known without the exchange, so it is marked expired with a
    message saying so; never silently dropped."""
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status in TERMINAL_STATUSES:
            return locked
        locked.status = OrderStatus.EXPIRED
        locked.error_code = "reconcile.not_on_exchange"
        locked.error_message = (
            "the exchange no longer knows this order (it was open in our record); "
            "marked expired with the fills we have"
        )
        locked.closed_at = timezone.now()
        locked.strategy_update_pending = locked.strategy_id is not None
        locked.save()
        transaction.on_commit(lambda: publish(OrderUpdated(locked)))
    logger.warning("order %s is unknown to the exchange; marked expired", locked.client_order_id)
    order.refresh_from_db()
    return order
