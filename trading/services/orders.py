"""The order manager: gets each order onto the exchange once, and records everything.

An order's life:
1. `order_create` — exchange filters (tick/step/min qty/min notional), then the risk
   guards (`order_prepare`), then a row with its client order id, all before any network
   call. A refused order is kept too, REJECTED with the reason (local filter code or
   "risk.<guard>"). A tick writes the rows itself, with its strategies' new states.
2. `order_submit` — the status moves PENDING → SUBMITTING (committed) *before* the
   request goes out (a tick that sends in its own process writes its orders SUBMITTING
   in the first place: `SendNow`, `order_send_claimed`), then the retry policy runs by
   error type:
   - time drift → sync the clock, send again (the exchange refused the request);
   - rate limited → wait (Retry-After, or exponential backoff with jitter), send again;
   - exchange unreachable before sending → back off, send again;
   - outcome unknown (timeout, 5xx, dropped connection) → look the order up by client
     order id, and send again only on a definite "no such order", which is trusted only
     once the request can no longer execute (Exchange.request_expiry_seconds);
   - rejected / insufficient funds / auth → no retry; REJECTED with the exchange's code.
   Every exchange call is an OrderAttempt row. An order left SUBMITTING (crash, lookups
   that kept failing) is resolved the same way by `order_submit` again or reconciliation.
3. `order_apply_state` / `orders_sync` — exchange status and fills flow back into the
   order, the positions and the strategy's pending update.

One intent never produces two exchange orders: the client order id is fixed before the
first send and reused for every resend; a resend happens only after the exchange
definitively says it has no order with that id; and (strategy, intent key) is unique in
the database.
"""

from __future__ import annotations

import enum
import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from exchanges.base import Exchange, ExchangeOrder, OrderRequest, OrderState
from exchanges.errors import (
    ExchangeAuthError,
    ExchangeError,
    ExchangeUnavailableError,
    InsufficientFundsError,
    OrderNotFoundError,
    OrderRejectedError,
    OutcomeUnknownError,
    RateLimitedError,
    TimeDriftError,
)
from trading.metrics import exchange_attempt
from trading.models import (
    ACTIVE_STATUSES,
    OPEN_STATUSES,
    TERMINAL_STATUSES,
    AttemptAction,
    AttemptOutcome,
    Fill,
    Order,
    OrderAttempt,
    OrderSource,
    OrderStatus,
    StrategyConfig,
    order_can_transition,
)
from trading.notifications import events as notice
from trading.notifications.services import notify
from trading.risk import ProposedOrder, RiskState, risk_check
from trading.services import tick_store
from trading.services.audit import Actor, audit_record
from trading.services.fills import fills_reassign, fills_record_with
from trading.services.leases import lease_fields, lease_release, lease_take
from trading.services.tick_store import db_value
from trading.strategies.base import OrderIntent
from xquant import realtime
from xquant.errors import ApplicationError, ConflictError, RetryableError, ValidationError
from xquant.logs import with_log_context
from xquant.sql import Result, Statement, batch_run, insert_statement, update_statement

logger = logging.getLogger("trading.orders")

FILL_CLOCK_MARGIN = timedelta(seconds=60)

#: Binance's duplicate newClientOrderId among open orders: the order exists.
DUPLICATE_CLIENT_ORDER_ID = "-4116"

STATUS_FROM_EXCHANGE = {
    OrderState.NEW: OrderStatus.OPEN,
    OrderState.PARTIALLY_FILLED: OrderStatus.PARTIALLY_FILLED,
    OrderState.FILLED: OrderStatus.FILLED,
    OrderState.CANCELED: OrderStatus.CANCELED,
    OrderState.REJECTED: OrderStatus.REJECTED,
    OrderState.EXPIRED: OrderStatus.EXPIRED,
}


@dataclass(frozen=True)
class RetryPolicy:
    #: Sends of one order (not counting lookups and clock syncs).
    max_sends: int = 5
    #: Lookups by client order id after an unknown outcome before leaving the order
    #: SUBMITTING for reconciliation.
    max_lookups: int = 5
    base_delay: float = 0.25
    max_delay: float = 8.0
    #: A longer wait asked by the exchange (an IP ban) gives the order up as not sent.
    max_retry_after: float = 60.0
    #: An order not yet on the exchange this long after it was decided (the trader was
    #: down) is not sent any more: the market has moved on and its strategy re-plans.
    stale_after: float = 120.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Exponential backoff with equal jitter, at least what the exchange asked."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** max(0, attempt - 1))
        delay = ceiling / 2 + random.uniform(0, ceiling / 2)
        return max(delay, retry_after or 0.0)


DEFAULT_RETRY_POLICY = RetryPolicy()
#: A person (or a program) waiting on a manual order gets an answer within about one
#: exchange timeout: a second send only when the first surely never left, and an
#: unknown outcome is handed on (order_settle_later) rather than looked up meanwhile.
MANUAL_RETRY_POLICY = RetryPolicy(max_sends=2, max_lookups=0, base_delay=0.1, max_delay=0.5)
Sleep = Callable[[float], None]


def new_client_order_id() -> str:
    """32 characters from Binance's allowed set, unique across processes and restarts."""
    return f"xq{uuid.uuid4().hex[:30]}"


# --- creating -------------------------------------------------------------------------


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
            publish_order(order)
            if self.risk_trip is not None:
                _publish_risk_trip(order, *self.risk_trip)
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
    (inserted,) = batch_run([order_insert_statement(prepared.order)])
    order = order_inserted(prepared.order, inserted)
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
        request = rules.normalize(_request(order), reference_price)
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
    from trading.services.risk import risk_state_get

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


def order_insert_statement(order: Order) -> Statement:
    """The order's row; a row conflicting with an existing one (the strategy already has
    an order for this intent key) is skipped by the database rather than raised, so the
    statement can travel in a batch with others and needs no savepoint."""
    return insert_statement(order, ignore_conflicts=True)


def order_inserted(order: Order, inserted: Result) -> Order:
    """The order as saved by its insert statement's result: itself with its id, or the
    intent's earlier order when the insert was skipped."""
    if inserted.rows:
        order.pk = inserted.rows[0][0]
        order._state.adding, order._state.db = False, connection.alias
        return order
    existing = (
        Order.objects.filter(strategy=order.strategy, intent_key=order.intent_key).first()
        if order.intent_key
        else None
    )
    if existing is None:
        raise IntegrityError(f"order {order.client_order_id} conflicts with an existing order")
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


def _request(order: Order) -> OrderRequest:
    return OrderRequest(
        symbol=order.symbol,
        side=order.side,
        order_type=order.order_type,
        quantity=order.quantity,
        client_order_id=order.client_order_id,
        price=order.price,
        position_side=order.position_side,
        reduce_only=order.reduce_only,
        time_in_force=order.time_in_force or None,
    )


# --- attempts -------------------------------------------------------------------------


class _Stop(Exception):
    """Another process is working this order; this one steps back."""


def _claim_attempt(order: Order) -> int:
    """Reserve the next attempt number. Two processes can never both send the same order:
    the number is claimed with a compare-and-set on attempt_count."""
    lease = lease_fields(timezone.now())
    claimed = Order.objects.filter(pk=order.pk, attempt_count=order.attempt_count).update(
        attempt_count=F("attempt_count") + 1, **lease
    )
    if not claimed:
        raise _Stop
    order.attempt_count += 1
    order.claimed_by, order.lease_until = lease["claimed_by"], lease["lease_until"]
    return order.attempt_count


def _attempt(
    order: Order,
    number: int,
    action: str,
    outcome: str,
    started_at: datetime,
    started: float,
    error: ExchangeError | None = None,
) -> OrderAttempt:
    """The record of one exchange call (not saved yet)."""
    retry_after = getattr(error, "retry_after", None)
    exchange_attempt(action, outcome)
    return OrderAttempt(
        order=order,
        number=number,
        action=action,
        outcome=outcome,
        error_code=(error.record_code if error else "")[:64],
        error_message=error.message if error else "",
        retry_after=Decimal(str(round(retry_after, 3))) if retry_after is not None else None,
        started_at=started_at,
        duration_ms=Decimal(str(round((time.monotonic() - started) * 1000, 3))),
    )


def _log_attempt(
    order: Order,
    number: int,
    action: str,
    outcome: str,
    started_at: datetime,
    started: float,
    error: ExchangeError | None = None,
) -> None:
    _attempt(order, number, action, outcome, started_at, started, error).save()
    if error is not None:
        logger.info(
            "order %s %s attempt %d: %s (%s)",
            order.client_order_id,
            action,
            number,
            outcome,
            error.message,
        )


class _Lookup(enum.Enum):
    FOUND = "found"
    NOT_FOUND = "not_found"
    UNDECIDED = "undecided"


# --- submitting -----------------------------------------------------------------------


@with_log_context("order")
def order_submit(
    *,
    order: Order,
    exchange: Exchange,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    sleep: Sleep = time.sleep,
) -> Order:
    """Get a PENDING order onto the exchange exactly once (see the module docstring).

    Safe to call again for the same order at any time: a SUBMITTING order is looked up
    before anything is sent; an order already placed or finished is returned as is.
    """
    if order.status != OrderStatus.PENDING:
        order.refresh_from_db()
    try:
        return _submit(order, exchange, policy, sleep)
    finally:
        lease_release(order=order)


def _submit(order: Order, exchange: Exchange, policy: RetryPolicy, sleep: Sleep) -> Order:
    try:
        if order.status == OrderStatus.PENDING:
            if _is_stale(order, policy):
                return _cancel_unsent(
                    order, f"not sent within {policy.stale_after:.0f} s of being decided (stale)"
                )
            # One statement moves it to SUBMITTING and claims the first attempt; if the
            # in-memory order was stale (another process moved it), nothing matches.
            now = timezone.now()
            lease = lease_fields(now)
            moved = Order.objects.filter(
                pk=order.pk, status=OrderStatus.PENDING, attempt_count=order.attempt_count
            ).update(
                status=OrderStatus.SUBMITTING,
                submitted_at=now,
                updated_at=now,
                attempt_count=F("attempt_count") + 1,
                **lease,
            )
            if not moved:
                order.refresh_from_db()
                return order
            order.status, order.submitted_at, order.updated_at = OrderStatus.SUBMITTING, now, now
            order.claimed_by, order.lease_until = lease["claimed_by"], lease["lease_until"]
            order.attempt_count += 1
            return _send(order, exchange, policy, sleep, claimed=order.attempt_count)
        elif order.status == OrderStatus.SUBMITTING:
            if not lease_take(order=order):
                logger.info("order %s is being sent by %s", order.client_order_id, order.claimed_by)
                return order
            # A previous process may have sent it: find out first.
            last_send = (
                order.attempts.filter(action=AttemptAction.SUBMIT).order_by("-number").first()
            )
            sent_at = (
                last_send.started_at if last_send else (order.submitted_at or order.created_at)
            )
            if _lookup(order, exchange, policy, sleep, sent_at) is not _Lookup.NOT_FOUND:
                return order
            if _is_stale(order, policy) or policy.max_sends == 0:
                return _reject(
                    order,
                    "not_sent",
                    "the exchange has no order with this client order id: it never got there; "
                    "not sent again because it is stale",
                )
        else:
            return order
        return _send(order, exchange, policy, sleep)
    except _Stop:
        return _worked_elsewhere(order)


def order_send_claimed(
    *,
    order: Order,
    exchange: Exchange,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    sleep: Sleep = time.sleep,
) -> Order:
    """Send an order its caller wrote already claimed (PreparedOrder.claim) and has not
    sent: the first attempt is its claim; resends follow the retry policy."""
    if order.status != OrderStatus.SUBMITTING or order.attempt_count != 1:
        raise ValueError(f"order {order.client_order_id} was not written claimed for sending")
    try:
        return _send(order, exchange, policy, sleep, claimed=order.attempt_count)
    except _Stop:
        return _worked_elsewhere(order)
    finally:
        lease_release(order=order)


def _worked_elsewhere(order: Order) -> Order:
    logger.info("order %s is being worked by another process", order.client_order_id)
    order.refresh_from_db()
    return order


class SendNow:
    """Sends each order of a tick in this process as soon as the tick has committed
    (runtrader, the benchmark; a Celery tick queues a task per order instead). The tick
    writes the orders it hands to this submitter already claimed for sending."""

    def __init__(self, exchange: Exchange, policy: RetryPolicy = DEFAULT_RETRY_POLICY):
        self.exchange = exchange
        self.policy = policy

    def __call__(self, order: Order) -> Order:
        return order_submit(order=order, exchange=self.exchange, policy=self.policy)

    def send_claimed(self, order: Order) -> Order:
        return order_send_claimed(order=order, exchange=self.exchange, policy=self.policy)


def _is_stale(order: Order, policy: RetryPolicy) -> bool:
    return (timezone.now() - order.created_at).total_seconds() > policy.stale_after


def _cancel_unsent(order: Order, message: str) -> Order:
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
        publish_order(order)
    return order


def _send(
    order: Order, exchange: Exchange, policy: RetryPolicy, sleep: Sleep, claimed: int | None = None
) -> Order:
    request = _request(order)
    sends = 0
    last_error: ExchangeError | None = None
    while sends < policy.max_sends:
        sends += 1
        number = claimed if claimed is not None else _claim_attempt(order)
        claimed = None
        started_at, started = timezone.now(), time.monotonic()
        try:
            state = exchange.create_order(request)
        except TimeDriftError as exc:
            _log_attempt(
                order,
                number,
                AttemptAction.SUBMIT,
                AttemptOutcome.TIME_DRIFT,
                started_at,
                started,
                exc,
            )
            _sync_time(order, exchange)
            last_error = exc
        except RateLimitedError as exc:
            _log_attempt(
                order,
                number,
                AttemptAction.SUBMIT,
                AttemptOutcome.RATE_LIMITED,
                started_at,
                started,
                exc,
            )
            if exc.retry_after is not None and exc.retry_after > policy.max_retry_after:
                return _reject(
                    order,
                    exc.record_code,
                    f"not sent: the exchange asks to wait {exc.retry_after:.0f} s ({exc.message})",
                )
            last_error = exc
            sleep(policy.delay(sends, exc.retry_after))
        except ExchangeUnavailableError as exc:
            _log_attempt(
                order, number, AttemptAction.SUBMIT, AttemptOutcome.ERROR, started_at, started, exc
            )
            last_error = exc
            sleep(policy.delay(sends))
        except OutcomeUnknownError as exc:
            _log_attempt(
                order,
                number,
                AttemptAction.SUBMIT,
                AttemptOutcome.UNKNOWN,
                started_at,
                started,
                exc,
            )
            if _lookup(order, exchange, policy, sleep, started_at) is not _Lookup.NOT_FOUND:
                return order
            last_error = exc
        except InsufficientFundsError as exc:
            _log_attempt(
                order,
                number,
                AttemptAction.SUBMIT,
                AttemptOutcome.INSUFFICIENT_FUNDS,
                started_at,
                started,
                exc,
            )
            return _reject(order, exc.record_code, exc.message)
        except OrderRejectedError as exc:
            _log_attempt(
                order,
                number,
                AttemptAction.SUBMIT,
                AttemptOutcome.REJECTED,
                started_at,
                started,
                exc,
            )
            # A duplicate client order id means the exchange already holds our order.
            if (
                exc.exchange_code == DUPLICATE_CLIENT_ORDER_ID
                and _lookup(order, exchange, policy, sleep, started_at) is not _Lookup.NOT_FOUND
            ):
                return order
            return _reject(order, exc.record_code, exc.message)
        except ExchangeAuthError as exc:
            _log_attempt(
                order, number, AttemptAction.SUBMIT, AttemptOutcome.AUTH, started_at, started, exc
            )
            logger.error("exchange refused our credentials: %s", exc.message)
            return _reject(order, exc.record_code, exc.message)
        except ExchangeError as exc:
            # Unclassified: it may or may not have been placed, so treat it as unknown.
            _log_attempt(
                order,
                number,
                AttemptAction.SUBMIT,
                AttemptOutcome.UNKNOWN,
                started_at,
                started,
                exc,
            )
            if _lookup(order, exchange, policy, sleep, started_at) is not _Lookup.NOT_FOUND:
                return order
            last_error = exc
        else:
            accepted = _attempt(
                order, number, AttemptAction.SUBMIT, AttemptOutcome.ACCEPTED, started_at, started
            )
            return order_apply_state(order=order, state=state, exchange=exchange, attempt=accepted)
    detail = last_error.message if last_error else "no answer"
    return _reject(
        order,
        last_error.record_code if last_error else "retries_exhausted",
        f"not sent after {sends} attempts; last error: {detail}",
    )


def _sync_time(order: Order, exchange: Exchange) -> None:
    number = _claim_attempt(order)
    started_at, started = timezone.now(), time.monotonic()
    try:
        offset = exchange.sync_time()
    except ExchangeError as exc:
        _log_attempt(
            order, number, AttemptAction.SYNC_TIME, AttemptOutcome.ERROR, started_at, started, exc
        )
    else:
        _log_attempt(
            order, number, AttemptAction.SYNC_TIME, AttemptOutcome.ACCEPTED, started_at, started
        )
        logger.info("exchange clock offset is now %d ms", offset)


def _lookup(
    order: Order, exchange: Exchange, policy: RetryPolicy, sleep: Sleep, sent_at: datetime
) -> _Lookup:
    """Ask the exchange for the order by its client order id, after a send whose outcome
    is unknown. FOUND applies what the exchange says; NOT_FOUND is final (the request can
    no longer execute); UNDECIDED leaves the order SUBMITTING for a later pass."""
    if policy.max_lookups == 0:
        return _Lookup.UNDECIDED  # the caller does not wait for lookups
    wait = exchange.request_expiry_seconds - (timezone.now() - sent_at).total_seconds()
    if wait > 0:
        sleep(wait)
    for lookup in range(1, policy.max_lookups + 1):
        number = _claim_attempt(order)
        started_at, started = timezone.now(), time.monotonic()
        try:
            state = exchange.fetch_order(order.symbol, order.client_order_id)
        except OrderNotFoundError as exc:
            _log_attempt(
                order,
                number,
                AttemptAction.LOOKUP,
                AttemptOutcome.NOT_FOUND,
                started_at,
                started,
                exc,
            )
            return _Lookup.NOT_FOUND
        except TimeDriftError as exc:
            _log_attempt(
                order,
                number,
                AttemptAction.LOOKUP,
                AttemptOutcome.TIME_DRIFT,
                started_at,
                started,
                exc,
            )
            _sync_time(order, exchange)
        except ExchangeError as exc:
            outcome = (
                AttemptOutcome.RATE_LIMITED
                if isinstance(exc, RateLimitedError)
                else AttemptOutcome.ERROR
            )
            _log_attempt(order, number, AttemptAction.LOOKUP, outcome, started_at, started, exc)
            sleep(policy.delay(lookup, getattr(exc, "retry_after", None)))
        else:
            _log_attempt(
                order, number, AttemptAction.LOOKUP, AttemptOutcome.FOUND, started_at, started
            )
            order_apply_state(order=order, state=state, exchange=exchange)
            return _Lookup.FOUND
    logger.warning(
        "order %s: outcome still unknown after %d lookups; reconciliation will resolve it",
        order.client_order_id,
        policy.max_lookups,
    )
    return _Lookup.UNDECIDED


def _reject(order: Order, code: str, message: str) -> Order:
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
        transaction.on_commit(lambda: publish_order(locked))
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


def order_apply_state(
    *,
    order: Order,
    state: ExchangeOrder,
    exchange: Exchange,
    attempt: OrderAttempt | None = None,
) -> Order:
    """Bring the order in line with what the exchange reports, and record new fills.

    `attempt`, the exchange call that brought the report, is recorded with it: in the
    common case (the order moves on from what this process last wrote) both travel in
    one round trip. When the report says the order filled more, its fills are asked
    first, and the report and the attempt travel with them (see fills_record_with); if
    the exchange has none to give yet, the report is written alone and the fills come
    with a later sync or reconciliation."""
    # Only an order whose first answer was lost learns its id from a lookup (attempt 2 or
    # later), and only then can reconciliation have met its trade first.
    if state.exchange_order_id and not order.exchange_order_id and order.attempt_count > 1:
        _take_exchange_order_id(order, state.exchange_order_id)
    row = _copy_of(order)
    changed, fields = _state_onto(row, state)
    fills = _exchange_fills(row, exchange) if row.filled_quantity > order.filled_quantity else []
    if fills:
        _fills_with_order_update(order, fills, state=state, attempt=attempt)
        return order
    locked = _apply_state_unlocked(order, row, changed, fields, attempt)
    if locked is None:
        locked = _apply_state_locked(order, state)
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
        transaction.on_commit(lambda: publish_order(duplicate))
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
    new_status = STATUS_FROM_EXCHANGE[state.status]
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


def _apply_state_unlocked(
    order: Order, row: Order, changed: bool, fields: list[str], attempt: OrderAttempt | None
) -> Order | None:
    """Write the report (applied to `row`, a copy of `order`) without locking the row,
    on the condition that the row is still what this process read (see
    _update_if_unchanged). The attempt is saved in the same round trip either way. None
    when the row moved on (or nothing would change): then the locked path decides."""
    statements = [insert_statement(attempt, returning=())] if attempt is not None else []
    if changed:
        statements.append(_update_if_unchanged(order, row, fields))
    results = batch_run(statements)
    if not changed or results[-1].rowcount != 1:
        return None
    transaction.on_commit(lambda: publish_order(row))
    _notify_if_rejected(order.status, row)
    return row


def _copy_of(order: Order) -> Order:
    row = Order(**{f.attname: getattr(order, f.attname) for f in Order._meta.concrete_fields})
    row._state.adding, row._state.db = False, connection.alias
    return row


def _update_if_unchanged(order: Order, row: Order, fields: list[str]) -> Statement:
    """Write `row`'s fields if the order's row is still as `order` was read: same status,
    filled quantity, attempt count and last update. Every writer of an order changes
    one of them, so then nobody wrote it since and `order` is the row: the same
    outcome as under a row lock, without the lock's transaction (three round trips)."""
    return update_statement(
        row,
        fields,
        where="status = %s AND filled_quantity = %s AND attempt_count = %s AND updated_at = %s",
        params=[
            order.status,
            db_value(Order, "filled_quantity", order.filled_quantity),
            order.attempt_count,
            db_value(Order, "updated_at", order.updated_at),
        ],
    )


def _apply_state_locked(order: Order, state: ExchangeOrder) -> Order:
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        before = locked.status
        changed, fields = _state_onto(locked, state)
        locked.save(update_fields=fields)
        if changed:
            transaction.on_commit(lambda: publish_order(locked))
            _notify_if_rejected(before, locked)
    return locked


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
    return _fills_with_order_update(order, fills, mark_price=mark_price) if fills else []


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


@dataclass
class ReadsAfter:
    """Statements to read once a sync's writes are done: sent with its last write when
    they can be (after the writes, in their transaction), which saves the round trip."""

    #: Makes the statements, when (if) they are sent.
    statements: Callable[[], Sequence[Statement]]
    #: Their results, if they went with the last write; None: read them yourself.
    results: list[Result] | None = None


def _fills_with_order_update(
    order: Order,
    fills: list,
    *,
    state: ExchangeOrder | None = None,
    attempt: OrderAttempt | None = None,
    mark_price: Decimal | None = None,
    reads: ReadsAfter | None = None,
) -> list[Fill]:
    """Record the order's new fills, and in their transaction what else they change on
    the order: the exchange's report `state` with the `attempt` that brought it, and its
    filled quantity and average price when the fills say more than the order (fills can
    arrive before the status). The order row is written on the condition that it is as
    read (see _update_if_unchanged), else under its lock afterwards. `reads` go after
    the writes when nothing is written after them. Returns the new Fill rows."""
    totals = _fills_totals(fills)
    row = _copy_of(order)
    changed, fields = _order_update_onto(row, state, totals)
    writes = [insert_statement(attempt, returning=())] if attempt is not None else []
    if fields:
        writes.append(_update_if_unchanged(order, row, fields))
    then = list(reads.statements()) if reads is not None else []
    recorded, results = fills_record_with(
        order=order, fills=fills, mark_price=mark_price, also=[*writes, *then]
    )
    written, read = results[: len(writes)], results[len(writes) :]
    if writes and not results:  # no new fill went in, so neither did the writes
        written = batch_run(writes)
    if fields and written[-1].rowcount != 1:
        read = []  # the order is written after them: they are out of date
        with transaction.atomic():
            row = Order.objects.select_for_update().get(pk=order.pk)
            changed, fields = _order_update_onto(row, state, totals)
            row.save(update_fields=fields)
    if reads is not None:
        reads.results = read or None
    if changed:
        transaction.on_commit(lambda: publish_order(row))
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


def orders_sync(
    *,
    exchange: Exchange,
    symbol: str,
    mark_price: Decimal | None = None,
    working: list[tick_store.Working] | None = None,
    reads: ReadsAfter | None = None,
) -> int:
    """Follow this symbol's working orders on the exchange: new fills, and orders that
    left the book (filled, canceled, expired). Returns how many orders changed.

    Every tick calls it, so the common cases are cheap: no working order, nothing (the
    tick read them with the rest of its view: `working`); working orders all still on
    the book and unfilled since, one exchange call. A tick reads again after a change:
    `reads` go with the last write when that is the fills of the one order that left
    the book (the usual change), and stay unread otherwise.
    """
    if working is None:
        working = tick_store.working_orders(exchange=exchange.name, symbol=symbol)
    if not working:
        return 0
    try:
        on_book = {o.client_order_id: o for o in exchange.fetch_open_orders(symbol)}
    except ExchangeError as exc:
        logger.warning("could not follow %s orders: %s", symbol, exc.message)
        return 0
    moved = [
        w
        for w in working
        if w.client_order_id not in on_book
        or on_book[w.client_order_id].filled_quantity > w.filled_quantity
    ]
    if not moved:
        return 0
    # As read with the tick's view a moment ago; a write that finds the row moved on
    # since falls back to locking it (see _update_if_unchanged).
    active = [w.order() for w in moved]
    by_exchange_id = {o.exchange_order_id: o for o in active if o.exchange_order_id}
    try:
        fills = _moved_orders_fills(exchange, symbol, active)
    except ExchangeError as exc:
        logger.warning("could not fetch %s fills: %s", symbol, exc.message)
        return 0
    fills_by_order: dict[str, list] = {}
    for fill in fills:
        if fill.exchange_order_id in by_exchange_id:
            fills_by_order.setdefault(fill.exchange_order_id, []).append(fill)
    changed: set[int] = set()
    last = next(reversed(fills_by_order), None)
    for exchange_order_id, order_fills in fills_by_order.items():
        order = by_exchange_id[exchange_order_id]
        with_reads = reads if exchange_order_id == last else None
        if _fills_with_order_update(order, order_fills, mark_price=mark_price, reads=with_reads):
            changed.add(order.pk)
    for order in active:
        if order.status in OPEN_STATUSES and order.client_order_id not in on_book:
            if reads is not None:
                reads.results = None  # this order is written after them
            before = (order.status, order.filled_quantity)
            order = order_refresh(order=order, exchange=exchange)
            if (order.status, order.filled_quantity) != before:
                changed.add(order.pk)
    return len(changed)


def _moved_orders_fills(exchange: Exchange, symbol: str, moved: list[Order]) -> list:
    """The fills of the orders that moved on the book: of the one order when it is one
    (the usual case, which an exchange may answer from what it knows), else the
    symbol's since the oldest of them was sent."""
    if len(moved) == 1:
        if not moved[0].exchange_order_id:
            return []
        return exchange.fetch_fills(symbol, exchange_order_id=moved[0].exchange_order_id)
    # Fills carry the exchange's time, submissions ours: a margin covers clock skew.
    since = min(o.submitted_at or o.created_at for o in moved) - FILL_CLOCK_MARGIN
    return exchange.fetch_fills(symbol, since=since)


def order_refresh(*, order: Order, exchange: Exchange) -> Order:
    """Ask the exchange where the order stands and apply it."""
    try:
        state = exchange.fetch_order(order.symbol, order.client_order_id)
    except OrderNotFoundError:
        return _resolve_unknown_to_exchange(order)
    except ExchangeError as exc:
        logger.warning("could not refresh order %s: %s", order.client_order_id, exc.message)
        return order
    return order_apply_state(order=order, state=state, exchange=exchange)


def _resolve_unknown_to_exchange(order: Order) -> Order:
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
        transaction.on_commit(lambda: publish_order(locked))
    logger.warning("order %s is unknown to the exchange; marked expired", locked.client_order_id)
    order.refresh_from_db()
    return order


# --- cancelling -----------------------------------------------------------------------


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
        order = _cancel_unsent(order, reason or "cancelled before it was sent")
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
        number = _claim_attempt(order)
    except _Stop:
        raise RetryableError(f"order {order.client_order_id} is busy; try again") from None
    started_at, started = timezone.now(), time.monotonic()
    try:
        state = exchange.cancel_order(order.symbol, order.client_order_id)
    except OrderNotFoundError as exc:
        # Not open any more: it filled or expired in the meantime.
        _log_attempt(
            order, number, AttemptAction.CANCEL, AttemptOutcome.NOT_FOUND, started_at, started, exc
        )
        return order_refresh(order=order, exchange=exchange)
    except ExchangeError as exc:
        _log_attempt(
            order, number, AttemptAction.CANCEL, AttemptOutcome.ERROR, started_at, started, exc
        )
        raise
    _log_attempt(order, number, AttemptAction.CANCEL, AttemptOutcome.ACCEPTED, started_at, started)
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
        from django.conf import settings

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


# --- events ---------------------------------------------------------------------------


def order_payload(order: Order) -> dict[str, Any]:
    return {
        "id": order.pk,
        "client_order_id": order.client_order_id,
        "exchange_order_id": order.exchange_order_id,
        "symbol": order.symbol,
        "side": order.side,
        "order_type": order.order_type,
        "position_side": order.position_side,
        "quantity": order.quantity,
        "price": order.price,
        "status": order.status,
        "filled_quantity": order.filled_quantity,
        "average_price": order.average_price,
        "strategy_id": order.strategy_id,
        "source": order.source,
        "reason": order.reason,
        "error_code": order.error_code,
        "error_message": order.error_message,
        "created_at": order.created_at,
        "updated_at": order.updated_at,
    }


def publish_order(order: Order) -> None:
    realtime.publish(realtime.DASHBOARD_GROUP, "order.updated", order_payload(order))


def _publish_risk_trip(order: Order, guard: str, reason: str) -> None:
    realtime.publish(
        realtime.DASHBOARD_GROUP,
        "risk.tripped",
        {"guard": guard, "reason": reason, "order": order_payload(order)},
    )


__all__ = [
    "DEFAULT_RETRY_POLICY",
    "OrderSource",
    "RetryPolicy",
    "order_apply_state",
    "order_cancel",
    "order_create",
    "order_fetch_fills",
    "order_place",
    "order_refresh",
    "order_submit",
    "orders_cancel_all",
    "orders_sync",
]
