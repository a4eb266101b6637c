"""How an order is sent again: the retry policy and the ladder of exchange errors."""

from __future__ import annotations

import enum
import random
from collections.abc import Callable
from dataclasses import dataclass

from exchanges.errors import (
    ExchangeAuthError,
    ExchangeError,
    ExchangeUnavailableError,
    InsufficientFundsError,
    OrderRejectedError,
    OutcomeUnknownError,
    RateLimitedError,
    TimeDriftError,
)
from trading.models import AttemptOutcome

Sleep = Callable[[float], None]

#: Binance's duplicate newClientOrderId among open orders: the order exists.
DUPLICATE_CLIENT_ORDER_ID = "-4116"


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


class Then(enum.Enum):
    """What follows a refused or unanswered send."""

    #: The exchange refused the request's timestamp: measure the clock, send again.
    SYNC_CLOCK_AND_RESEND = "sync clock and resend"
    #: Rate limited: wait what the exchange asks (or back off), send again.
    WAIT_AND_RESEND = "wait and resend"
    #: The request never reached the exchange: back off, send again.
    BACK_OFF_AND_RESEND = "back off and resend"
    #: It may or may not have been placed: look it up by client order id, and send
    #: again only on a definite "no such order".
    LOOK_UP = "look up"
    #: Final: the order is rejected with the exchange's code.
    REJECT = "reject"


@dataclass(frozen=True)
class Rung:
    error: type[ExchangeError]
    #: How the attempt is recorded.
    outcome: str
    then: Then


#: The first rung whose error type matches decides (subclasses before their bases).
RETRY_LADDER = (
    Rung(TimeDriftError, AttemptOutcome.TIME_DRIFT, Then.SYNC_CLOCK_AND_RESEND),
    Rung(RateLimitedError, AttemptOutcome.RATE_LIMITED, Then.WAIT_AND_RESEND),
    Rung(ExchangeUnavailableError, AttemptOutcome.ERROR, Then.BACK_OFF_AND_RESEND),
    Rung(OutcomeUnknownError, AttemptOutcome.UNKNOWN, Then.LOOK_UP),
    Rung(InsufficientFundsError, AttemptOutcome.INSUFFICIENT_FUNDS, Then.REJECT),
    Rung(OrderRejectedError, AttemptOutcome.REJECTED, Then.REJECT),
    Rung(ExchangeAuthError, AttemptOutcome.AUTH, Then.REJECT),
    # Unclassified: it may or may not have been placed, so it is treated as unknown.
    Rung(ExchangeError, AttemptOutcome.UNKNOWN, Then.LOOK_UP),
)


def rung_for(error: ExchangeError) -> Rung:
    return next(rung for rung in RETRY_LADDER if isinstance(error, rung.error))
