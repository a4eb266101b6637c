"""Every exchange call about an order is an OrderAttempt row, numbered under a claim."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from decimal import Decimal

from django.db.models import F
from django.utils import timezone

from exchanges.errors import ExchangeError
from trading.metrics import exchange_attempt
from trading.models import Order, OrderAttempt
from trading.services.leases import lease_fields

logger = logging.getLogger("trading.orders")


class WorkedElsewhere(Exception):
    """Another process is working this order; this one steps back."""


def attempt_claim(order: Order) -> int:
    """Reserve the next attempt number. Two processes can never both send the same order:
    the number is claimed with a compare-and-set on attempt_count."""
    lease = lease_fields(timezone.now())
    claimed = Order.objects.filter(pk=order.pk, attempt_count=order.attempt_count).update(
        attempt_count=F("attempt_count") + 1, **lease
    )
    if not claimed:
        raise WorkedElsewhere
    order.attempt_count += 1
    order.claimed_by, order.lease_until = lease["claimed_by"], lease["lease_until"]
    return order.attempt_count


def attempt_record(
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


def attempt_log(
    order: Order,
    number: int,
    action: str,
    outcome: str,
    started_at: datetime,
    started: float,
    error: ExchangeError | None = None,
) -> None:
    attempt_record(order, number, action, outcome, started_at, started, error).save()
    if error is not None:
        logger.info(
            "order %s %s attempt %d: %s (%s)",
            order.client_order_id,
            action,
            number,
            outcome,
            error.message,
        )
