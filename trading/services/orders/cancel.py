"""Cancelling one working order, or all of them (the kill switch, a strategy stopped)."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.utils import timezone

from exchanges.base import Exchange
from exchanges.errors import ExchangeError, OrderNotFoundError
from trading.models import (
    ACTIVE_STATUSES,
    OPEN_STATUSES,
    TERMINAL_STATUSES,
    AttemptAction,
    AttemptOutcome,
    Order,
    OrderStatus,
)
from trading.services.audit import Actor, audit_record
from trading.services.orders.apply import order_apply_state
from trading.services.orders.attempts import WorkedElsewhere, attempt_claim, attempt_log
from trading.services.orders.closing import order_cancel_unsent
from trading.services.orders.policy import RetryPolicy
from trading.services.orders.submit import order_submit
from trading.services.orders.sync import order_refresh
from xquant.errors import ApplicationError, ConflictError, RetryableError
from xquant.logs import with_log_context

logger = logging.getLogger("trading.orders")


def order_cancel(
    *, order: Order, exchange: Exchange, reason: str = "", actor: Actor | None = None
) -> Order:
    """Cancel a working order. An order never sent is cancelled locally. With an
    `actor`, the audit trail records the request and how it ended."""
    if actor is None:
        return _order_cancel(order=order, exchange=exchange, reason=reason)
    before = {"status": Order.objects.values_list("status", flat=True).get(pk=order.pk)}
    try:
        order = _order_cancel(order=order, exchange=exchange, reason=reason)
    except ApplicationError as exc:
        audit_record(
            actor=actor,
            action="order.cancel",
            target=f"order {order.pk}",
            before=before,
            after={"refused": exc.message},
        )
        raise
    audit_record(
        actor=actor,
        action="order.cancel",
        target=f"order {order.pk}",
        before=before,
        after={"status": order.status},
    )
    return order


@with_log_context("order")
def _order_cancel(*, order: Order, exchange: Exchange, reason: str = "") -> Order:
    order.refresh_from_db()
    if order.status == OrderStatus.PENDING:
        order = order_cancel_unsent(order, reason or "cancelled before it was sent")
        if order.status == OrderStatus.CANCELED:
            return order
    if order.status in TERMINAL_STATUSES:
        raise ConflictError(
            f"order {order.client_order_id} is already {order.status}; there is nothing to cancel"
        )
    if order.status == OrderStatus.SUBMITTING:
        raise ConflictError(
            f"order {order.client_order_id} is being submitted; cancel it once the exchange has answered"
        )
    try:
        number = attempt_claim(order)
    except WorkedElsewhere:
        raise RetryableError(f"order {order.client_order_id} is busy; try again") from None
    started_at, started = timezone.now(), time.monotonic()
    try:
        state = exchange.cancel_order(order.symbol, order.client_order_id)
    except OrderNotFoundError as exc:
        # Not open any more: it filled or expired in the meantime.
        attempt_log(
            order, number, AttemptAction.CANCEL, AttemptOutcome.NOT_FOUND, started_at, started, exc
        )
        return order_refresh(order=order, exchange=exchange)
    except ExchangeError as exc:
        attempt_log(
            order, number, AttemptAction.CANCEL, AttemptOutcome.ERROR, started_at, started, exc
        )
        raise
    attempt_log(order, number, AttemptAction.CANCEL, AttemptOutcome.ACCEPTED, started_at, started)
    if reason:
        Order.objects.filter(pk=order.pk).update(error_message=reason)
    return order_apply_state(order=order, state=state, exchange=exchange)


def orders_cancel_all(
    *,
    exchange: Exchange,
    reason: str,
    symbols: list[str] | None = None,
    strategy_id: int | None = None,
    actor: Actor | None = None,
) -> dict[str, Any]:
    """Cancel every working order we know of, and any open order the exchange has on
    our symbols that we do not know of. With `strategy_id`, that strategy's working
    orders only (an order the exchange alone knows belongs to no strategy). With an
    `actor`, each cancel and the request as a whole are in the audit trail."""
    canceled, failed = 0, []
    working = Order.objects.filter(exchange=exchange.name, status__in=ACTIVE_STATUSES)
    if symbols:
        working = working.filter(symbol__in=symbols)
    if strategy_id is not None:
        working = working.filter(strategy_id=strategy_id)
    known_symbols = set(symbols or [])
    for order in working:
        known_symbols.add(order.symbol)
        try:
            if order.status == OrderStatus.SUBMITTING:
                # Resolve by lookup only: nothing is sent while cancelling everything.
                order = order_submit(
                    order=order, exchange=exchange, policy=RetryPolicy(max_sends=0)
                )
                if order.status not in OPEN_STATUSES:
                    continue
            result = order_cancel(order=order, exchange=exchange, reason=reason, actor=actor)
            canceled += result.status == OrderStatus.CANCELED
        except (ExchangeError, ConflictError, RetryableError) as exc:
            failed.append({"client_order_id": order.client_order_id, "error": str(exc)})
    if strategy_id is not None:
        known_symbols = set()
    elif not symbols:
        known_symbols.update(settings.TRADING_SYMBOLS)
    for symbol in sorted(known_symbols):
        try:
            for state in exchange.fetch_open_orders(symbol):
                if not Order.objects.filter(client_order_id=state.client_order_id).exists():
                    exchange.cancel_order(symbol, state.client_order_id)
                    canceled += 1
        except ExchangeError as exc:
            failed.append({"symbol": symbol, "error": exc.message})
    if failed:
        logger.error("could not cancel everything (%s): %s", reason, failed)
    if actor is not None:
        scope = (
            f"strategy {strategy_id}"
            if strategy_id is not None
            else ", ".join(symbols)
            if symbols
            else "all symbols"
        )
        audit_record(
            actor=actor,
            action="orders.cancel_all",
            target=scope,
            after={"canceled": canceled, "failed": failed},
        )
    return {"canceled": canceled, "failed": failed}
