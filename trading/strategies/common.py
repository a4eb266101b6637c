"""Small pieces every strategy shares: order statuses, state encoding, quantity grid."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from exchanges.base import SymbolRules
from xquant.errors import ValidationError

ZERO = Decimal(0)

# The values of trading.models.OrderStatus, repeated here so a pure strategy never
# imports the ORM (a test checks they agree).
PENDING = "pending"
SUBMITTING = "submitting"
OPEN = "open"
PARTIALLY_FILLED = "partially_filled"
FILLED = "filled"
CANCELED = "canceled"
REJECTED = "rejected"
EXPIRED = "expired"
#: After one of these the order's filled quantity is final.
TERMINAL_STATUSES = frozenset({FILLED, CANCELED, REJECTED, EXPIRED})

#: Earlier than any snapshot: "due at the first snapshot".
DISTANT_PAST = datetime.min.replace(tzinfo=UTC)
#: Later than any snapshot: "nothing more is due".
DISTANT_FUTURE = datetime.max.replace(tzinfo=UTC)


def dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def dec_str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def dt_from_iso(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def dt_iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def require_on_grid(rules: SymbolRules | None, name: str, quantity: Decimal) -> Decimal:
    """A configured quantity must already be on the symbol's step grid.

    Rounding it silently would trade less than the trader set (or never let an
    execution algorithm finish), so it is refused at construction with a message.
    """
    if rules is not None and rules.round_quantity(quantity) != quantity:
        message = (
            f"{name} {quantity} is not a multiple of the step size {rules.step_size} "
            f"for {rules.symbol}; use e.g. {rules.round_quantity(quantity)}."
        )
        raise ValidationError(message, extra={"fields": {name: [message]}})
    return quantity
