"""Getting an order onto the exchange exactly once.

The status moves PENDING → SUBMITTING (committed) before the request goes out (a tick
that sends in its own process writes its orders SUBMITTING in the first place:
`SendNow`, `order_send_claimed`); errors are handled by the retry ladder
(policy.RETRY_LADDER). A resend happens only after the exchange definitively says it
has no order with our client order id, which is trusted only once the request can no
longer execute (Exchange.request_expiry_seconds).
"""

from __future__ import annotations

import enum
import logging
import time
from datetime import datetime

from django.db.models import F
from django.utils import timezone

from exchanges.base import Exchange, OrderRequest
from exchanges.errors import (
    ExchangeAuthError,
    ExchangeError,
    OrderNotFoundError,
    RateLimitedError,
    TimeDriftError,
)
from trading.models import AttemptAction, AttemptOutcome, Order, OrderStatus
from trading.services.leases import lease_fields, lease_release, lease_take
from trading.services.orders.apply import order_apply_state
from trading.services.orders.attempts import (
    WorkedElsewhere,
    attempt_claim,
    attempt_log,
    attempt_record,
)
from trading.services.orders.closing import order_cancel_unsent, order_reject
from trading.services.orders.policy import (
    DEFAULT_RETRY_POLICY,
    DUPLICATE_CLIENT_ORDER_ID,
    RetryPolicy,
    Sleep,
    Then,
    rung_for,
)
from xquant.logs import with_log_context

logger = logging.getLogger("trading.orders")


class _Lookup(enum.Enum):
    FOUND = "found"
    NOT_FOUND = "not_found"
    UNDECIDED = "undecided"


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
                return order_cancel_unsent(
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
                return order_reject(
                    order,
                    "not_sent",
                    "the exchange has no order with this client order id: it never got there; "
                    "not sent again because it is stale",
                )
        else:
            return order
        return _send(order, exchange, policy, sleep)
    except WorkedElsewhere:
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
    except WorkedElsewhere:
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


def _send(
    order: Order, exchange: Exchange, policy: RetryPolicy, sleep: Sleep, claimed: int | None = None
) -> Order:
    """Send until the exchange answers, climbing the retry ladder (policy.RETRY_LADDER)
    on each error, at most policy.max_sends times."""
    request = order_request(order)
    sends = 0
    last_error: ExchangeError | None = None
    while sends < policy.max_sends:
        sends += 1
        number = claimed if claimed is not None else attempt_claim(order)
        claimed = None
        started_at, started = timezone.now(), time.monotonic()
        try:
            state = exchange.create_order(request)
        except ExchangeError as exc:
            rung = rung_for(exc)
            attempt_log(order, number, AttemptAction.SUBMIT, rung.outcome, started_at, started, exc)
            last_error = exc
            if rung.then is Then.SYNC_CLOCK_AND_RESEND:
                _sync_time(order, exchange)
            elif rung.then is Then.WAIT_AND_RESEND:
                retry_after = getattr(exc, "retry_after", None)
                if retry_after is not None and retry_after > policy.max_retry_after:
                    return order_reject(
                        order,
                        exc.record_code,
                        f"not sent: the exchange asks to wait {retry_after:.0f} s ({exc.message})",
                    )
                sleep(policy.delay(sends, retry_after))
            elif rung.then is Then.BACK_OFF_AND_RESEND:
                sleep(policy.delay(sends))
            elif rung.then is Then.LOOK_UP:
                if _lookup(order, exchange, policy, sleep, started_at) is not _Lookup.NOT_FOUND:
                    return order
            else:  # Then.REJECT
                if isinstance(exc, ExchangeAuthError):
                    logger.error("exchange refused our credentials: %s", exc.message)
                # A duplicate client order id means the exchange already holds our order.
                if (
                    exc.exchange_code == DUPLICATE_CLIENT_ORDER_ID
                    and _lookup(order, exchange, policy, sleep, started_at) is not _Lookup.NOT_FOUND
                ):
                    return order
                return order_reject(order, exc.record_code, exc.message)
        else:
            accepted = attempt_record(
                order, number, AttemptAction.SUBMIT, AttemptOutcome.ACCEPTED, started_at, started
            )
            return order_apply_state(order=order, state=state, exchange=exchange, attempt=accepted)
    detail = last_error.message if last_error else "no answer"
    return order_reject(
        order,
        last_error.record_code if last_error else "retries_exhausted",
        f"not sent after {sends} attempts; last error: {detail}",
    )


def _sync_time(order: Order, exchange: Exchange) -> None:
    number = attempt_claim(order)
    started_at, started = timezone.now(), time.monotonic()
    try:
        offset = exchange.sync_time()
    except ExchangeError as exc:
        attempt_log(
            order, number, AttemptAction.SYNC_TIME, AttemptOutcome.ERROR, started_at, started, exc
        )
    else:
        attempt_log(
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
        number = attempt_claim(order)
        started_at, started = timezone.now(), time.monotonic()
        try:
            state = exchange.fetch_order(order.symbol, order.client_order_id)
        except OrderNotFoundError as exc:
            attempt_log(
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
            attempt_log(
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
            attempt_log(order, number, AttemptAction.LOOKUP, outcome, started_at, started, exc)
            sleep(policy.delay(lookup, getattr(exc, "retry_after", None)))
        else:
            attempt_log(
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


def order_request(order: Order) -> OrderRequest:
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
