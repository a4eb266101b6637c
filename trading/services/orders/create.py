"""Deciding an order: exchange filters and risk guards, then its row, before any send."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from exchanges.base import Exchange
from exchanges.errors import OrderRejectedError
from trading.events import OrderUpdated, RiskTripped, publish
from trading.models import Order, OrderStatus, StrategyConfig
from trading.notifications import events as notice
from trading.notifications.services import notify
from trading.risk import ProposedOrder, RiskState, risk_check
from trading.selectors.risk import risk_state_get
from trading.services.audit import Actor, audit_record
from trading.services.leases import lease_fields
from trading.services.orders.policy import DEFAULT_RETRY_POLICY, RetryPolicy
from trading.services.orders.submit import order_request, order_submit
from trading.strategies.base import OrderIntent
from xquant.errors import ValidationError

logger = logging.getLogger("trading.orders")


def new_client_order_id() -> str:
    """32 characters from Binance's allowed set, unique across processes and restarts."""
    return f"xq{uuid.uuid4().hex[:30]}"


@dataclass
class PreparedOrder:
    """An order decided but not saved: PENDING, or REJECTED by a filter or a guard."""

    order: Order
    #: (guard, reason) when a risk guard refused it.
    risk_trip: tuple[str, str] | None = None
    #: Written already claimed for its first send (see `claim`).
    claimed: bool = False

    def claim(self, now: datetime) -> None:
        """Write it already claimed for its first send (SUBMITTING, attempt 1), for a
        caller that sends it in this process right after its commit (order_send_claimed):
        the claim travels in that commit instead of one of its own. A crash before the
        send leaves it SUBMITTING, looked up before any send, as after any claim."""
        if self.order.status == OrderStatus.PENDING:
            self.order.status = OrderStatus.SUBMITTING
            self.order.submitted_at = now
            self.order.attempt_count = 1
            for name, value in lease_fields(now).items():
                setattr(self.order, name, value)
            self.claimed = True

    def saved(self, order: Order) -> None:
        """After its row is written (`order`: this one, or the intent's earlier order)."""
        if order is self.order:
            publish(OrderUpdated(order))
            if self.risk_trip is not None:
                publish(RiskTripped(order, *self.risk_trip))
                notify(notice.risk_trip_notice(order, *self.risk_trip))


def order_create(
    *,
    intent: OrderIntent,
    exchange: Exchange,
    source: str,
    risk_state: RiskState,
    strategy: StrategyConfig | None = None,
    reference_price: Decimal | None = None,
    actor: Actor | None = None,
) -> Order:
    """Turn an intent into a persisted order: PENDING and ready to submit, or REJECTED
    with the filter's or guard's reason. Sends nothing.

    If the strategy already has an order for this intent key, that order is returned.
    """
    prepared = order_prepare(
        intent=intent,
        exchange=exchange,
        source=source,
        risk_state=risk_state,
        strategy=strategy,
        reference_price=reference_price,
        actor=actor,
    )
    order = order_save(prepared.order)
    transaction.on_commit(lambda: prepared.saved(order))
    return order


def order_prepare(
    *,
    intent: OrderIntent,
    exchange: Exchange,
    source: str,
    risk_state: RiskState,
    strategy: StrategyConfig | None = None,
    reference_price: Decimal | None = None,
    actor: Actor | None = None,
) -> PreparedOrder:
    """The exchange filters and the risk guards applied to an intent: the order to
    write (see order_create), not written yet."""
    if intent.quantity <= 0:
        raise ValidationError(
            f"quantity {intent.quantity} must be positive",
            extra={"fields": {"quantity": ["Must be greater than zero."]}},
        )
    if intent.order_type == "LIMIT" and (intent.price is None or intent.price <= 0):
        raise ValidationError(
            "a LIMIT order needs a positive price",
            extra={"fields": {"price": ["Required for LIMIT orders."]}},
        )
    rules = exchange.symbol_rules(intent.symbol)
    order = Order(
        client_order_id=new_client_order_id(),
        exchange=exchange.name,
        symbol=intent.symbol,
        side=intent.side,
        order_type=intent.order_type,
        position_side=intent.position_side,
        reduce_only=intent.reduce_only,
        time_in_force=intent.time_in_force or ("GTC" if intent.order_type == "LIMIT" else ""),
        quantity=intent.quantity,
        price=intent.price,
        reference_price=reference_price,
        strategy=strategy,
        source=source,
        intent_key=intent.key if strategy is not None else "",
        reason=intent.reason[:200],
        strategy_update_pending=strategy is not None,
        placed_by_id=actor.user_id if actor else None,
        placed_by_name=(actor.name if actor else "")[:150],
    )
    try:
        request = rules.normalize(order_request(order), reference_price)
    except OrderRejectedError as exc:
        return PreparedOrder(_refused(order, exc.record_code, exc.message))
    order.quantity, order.price = request.quantity, request.price

    valuation = order.price if order.price is not None else reference_price
    if valuation is None:
        raise ValidationError(
            f"no price to value the {order.symbol} market order at (no market data)"
        )
    decision = risk_check(
        ProposedOrder(
            symbol=order.symbol,
            side=order.side,
            position_side=order.position_side,
            quantity=order.quantity,
            price=valuation,
            reduce_only=order.reduce_only,
        ),
        risk_state,
    )
    if not decision.allowed:
        logger.warning(
            "risk guard %s refused %s %s %s: %s",
            decision.guard,
            order.side,
            order.quantity,
            order.symbol,
            decision.reason,
        )
        return PreparedOrder(
            _refused(order, f"risk.{decision.guard}", decision.reason),
            risk_trip=(decision.guard, decision.reason),
        )
    return PreparedOrder(order)


def order_place(
    *,
    intent: OrderIntent,
    exchange: Exchange,
    source: str,
    submit: bool = True,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    strategy: StrategyConfig | None = None,
    actor: Actor | None = None,
) -> Order:
    """A manual order (API, admin): the same filters, risk guards and submission as a
    strategy's, outside a tick. Market orders are valued at the current mid. With
    `strategy` it is booked to that strategy (a trader closing its share of a position:
    trading.services.positions). With an `actor`, the order records who placed
    it and the audit trail has the event."""
    reference_price = None
    if intent.order_type == "MARKET" or intent.price is None:
        reference_price = exchange.market_snapshot(intent.symbol).mid
    with transaction.atomic():
        order = order_create(
            intent=intent,
            exchange=exchange,
            source=source,
            risk_state=risk_state_get(exchange_name=exchange.name, symbol=intent.symbol),
            reference_price=reference_price,
            strategy=strategy,
            actor=actor,
        )
        if actor is not None:
            audit_record(
                actor=actor,
                action="order.place",
                target=f"order {order.pk}",
                after=_order_audited(order),
            )
    if submit and order.status == OrderStatus.PENDING:
        order = order_submit(order=order, exchange=exchange, policy=policy)
    return order


def order_settle_later(*, order: Order) -> None:
    """Hand an order whose outcome is still unknown to a worker, which looks it up
    before anything else (trading.submit_order). Without a worker (embedded mode) the
    trader's periodic reconciliation settles it, within a minute or two."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return  # inline, it would keep the caller waiting: exactly what it must not do
    from celery import current_app

    transaction.on_commit(lambda: current_app.send_task("trading.submit_order", args=[order.pk]))


def _order_audited(order: Order) -> dict[str, Any]:
    return {
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side,
        "order_type": order.order_type,
        "quantity": order.quantity,
        "price": order.price,
        "status": order.status,
        "error_code": order.error_code,
    }


def order_save(order: Order) -> Order:
    """Write a decided order: itself with its id, or the intent's earlier order when
    the strategy already has one for this intent key (a tick repeated after a crash)."""
    try:
        with transaction.atomic():
            order.save(force_insert=True)
        return order
    except IntegrityError:
        existing = (
            Order.objects.filter(strategy=order.strategy, intent_key=order.intent_key).first()
            if order.intent_key
            else None
        )
        if existing is None:
            raise
    logger.info(
        "intent %s of strategy %s already has order %s; not creating another",
        order.intent_key,
        order.strategy_id,
        existing.client_order_id,
    )
    return existing


def _refused(order: Order, code: str, message: str) -> Order:
    order.status = OrderStatus.REJECTED
    order.error_code = code[:64]
    order.error_message = message
    order.closed_at = timezone.now()
    return order
