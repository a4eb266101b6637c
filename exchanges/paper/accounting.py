"""Futures position and margin arithmetic of the paper exchange, without the database.

Positions follow Binance: a signed quantity per (symbol, position side) with an average
entry price. Increasing a position averages the entry; reducing it realises
(fill - entry) * quantity for a long, the opposite for a short, and keeps the entry; in
one-way mode an order larger than the position closes it and opens the rest the other
way at the fill price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from exchanges.base import BOTH, BUY, LONG, SHORT
from exchanges.errors import OrderRejectedError

Q8 = Decimal("0.00000001")
ZERO = Decimal("0")
DEFAULT_LEVERAGE = 20  # Binance's default for a new symbol


def q8(value: Decimal) -> Decimal:
    return value.quantize(Q8)


@dataclass(frozen=True, slots=True)
class PositionChange:
    quantity: Decimal
    entry_price: Decimal
    realized_pnl: Decimal
    #: The part of the fill that opened or increased exposure.
    opened: Decimal
    #: The part of the fill that reduced an existing position.
    closed: Decimal


def signed(side: str, quantity: Decimal) -> Decimal:
    return quantity if side == BUY else -quantity


def opening_quantity(position: Decimal, side: str, quantity: Decimal) -> Decimal:
    """How much of an order would open or increase exposure (what needs margin)."""
    delta = signed(side, quantity)
    if position == 0 or (position > 0) == (delta > 0):
        return quantity
    return max(ZERO, quantity - abs(position))


def position_apply(
    *, quantity: Decimal, entry_price: Decimal, side: str, fill_quantity: Decimal, price: Decimal
) -> PositionChange:
    delta = signed(side, fill_quantity)
    if quantity == 0 or (quantity > 0) == (delta > 0):
        new_quantity = quantity + delta
        entry = q8((abs(quantity) * entry_price + fill_quantity * price) / abs(new_quantity))
        return PositionChange(new_quantity, entry, ZERO, fill_quantity, ZERO)
    closed = min(abs(quantity), fill_quantity)
    direction = 1 if quantity > 0 else -1
    realized = q8((price - entry_price) * closed * direction)
    new_quantity = quantity + delta
    if new_quantity == 0:
        entry = ZERO
    elif (new_quantity > 0) != (quantity > 0):
        entry = price  # flipped through zero: the remainder opened at this fill
    else:
        entry = entry_price
    return PositionChange(new_quantity, entry, realized, fill_quantity - closed, closed)


def initial_margin(quantity: Decimal, entry_price: Decimal, leverage: int) -> Decimal:
    return q8(abs(quantity) * entry_price / leverage)


def unrealized_pnl(quantity: Decimal, entry_price: Decimal, mark_price: Decimal) -> Decimal:
    return q8((mark_price - entry_price) * quantity)


def reject(code: str, message: str) -> OrderRejectedError:
    return OrderRejectedError(f"paper exchange rejected the order: {message}", exchange_code=code)


def check_position_side(*, hedge_mode: bool, position_side: str, reduce_only: bool) -> None:
    """Binance's rules for positionSide and reduceOnly in each position mode."""
    if hedge_mode:
        if position_side not in (LONG, SHORT):
            raise reject(
                "-4061",
                f"position side {position_side} does not match the account's hedge mode "
                "(use LONG or SHORT)",
            )
        if reduce_only:
            raise reject(
                "-1106",
                "reduceOnly cannot be sent in hedge mode; closing is BUY SHORT or SELL LONG",
            )
    elif position_side != BOTH:
        raise reject(
            "-4061",
            f"position side {position_side} does not match the account's one-way mode (use BOTH)",
        )


def check_reduction(
    *, position: Decimal, side: str, quantity: Decimal, position_side: str, reduce_only: bool
) -> None:
    """Refuse an order that must only reduce but would not (Binance -2022)."""
    closing_hedge = (position_side == LONG and side != BUY) or (
        position_side == SHORT and side == BUY
    )
    if not (reduce_only or closing_hedge):
        return
    reduces = position != 0 and (position > 0) != (signed(side, quantity) > 0)
    if not reduces or quantity > abs(position):
        raise reject(
            "-2022",
            f"a reducing {side} of {quantity} needs an opposite position at least that large "
            f"(position {position_side} is {position})",
        )
