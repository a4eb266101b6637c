"""Position arithmetic: average entry price, realised and unrealised PnL, in Decimal.

Pure functions over anything with `quantity`, `entry_price`, `realized_pnl` and
`fees_paid` attributes (Position, StrategyPosition, a backtest book), so the same rules
hold for the account, for each strategy and in research.

Conventions (Binance USDT-M):
- quantity is signed: positive long, negative short. In hedge mode a LONG book never goes
  below zero and a SHORT book never above it; in one-way mode (BOTH) a fill larger than
  the position flips it, and the remainder opens at the fill price.
- Realised PnL on a reducing fill: closed quantity × (fill price − entry) × direction.
- realized_pnl on the book is net of fees; the fill's own realized_pnl is gross.
- Entry price is the quantity-weighted average of the fills that opened the position; it
  does not move when the position is reduced.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

ZERO = Decimal("0")
#: DecimalField precision of the stored prices.
PRICE_QUANTUM = Decimal("0.000000000001")


class Book(Protocol):
    quantity: Decimal
    entry_price: Decimal
    realized_pnl: Decimal
    fees_paid: Decimal


class AccountingError(Exception):
    """A fill that cannot apply to the book (e.g. selling more than a hedge-mode long)."""


def _direction(side: str) -> int:
    return 1 if side == "BUY" else -1


def apply_fill(
    book: Book,
    *,
    side: str,
    position_side: str,
    quantity: Decimal,
    price: Decimal,
    fee: Decimal = ZERO,
) -> Decimal:
    """Apply one fill to the book in place; returns the gross PnL the fill realised."""
    if quantity <= 0 or price <= 0:
        raise AccountingError(
            f"fill quantity and price must be positive (got {quantity} @ {price})"
        )
    signed = quantity * _direction(side)
    current = book.quantity
    realized = ZERO

    if position_side in ("LONG", "SHORT"):
        opening = (side == "BUY") == (position_side == "LONG")
        if not opening and quantity > abs(current):
            raise AccountingError(
                f"{side} {quantity} exceeds the {position_side} position of {abs(current)}"
            )

    if current == 0 or (current > 0) == (signed > 0):
        # Opening or adding: the entry becomes the weighted average.
        new_quantity = current + signed
        book.entry_price = (
            (abs(current) * book.entry_price + quantity * price) / abs(new_quantity)
        ).quantize(PRICE_QUANTUM)
        book.quantity = new_quantity
    else:
        closed = min(quantity, abs(current))
        position_direction = 1 if current > 0 else -1
        realized = closed * (price - book.entry_price) * position_direction
        new_quantity = current + signed
        if new_quantity == 0:
            book.entry_price = ZERO
        elif (new_quantity > 0) != (current > 0):
            # One-way mode flip: what is left over opens a new position at the fill price.
            book.entry_price = price
        book.quantity = new_quantity

    book.realized_pnl += realized - fee
    book.fees_paid += fee
    return realized


def unrealized_pnl(quantity: Decimal, entry_price: Decimal, mark_price: Decimal) -> Decimal:
    """Profit if the position were closed at the mark price (before closing fees)."""
    if quantity == 0:
        return ZERO
    return quantity * (mark_price - entry_price)
