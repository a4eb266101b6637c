"""Closing a position by hand, and what it does to the strategies' books.

The rule (README, "Manual trades and strategy books"): the account has one position per
symbol and side; each strategy keeps its own book of it (StrategyPosition, from its own
fills). Closing a position from the dashboard or the API closes the strategies' shares
too: one reduce-only market order per strategy whose book points the position's way
(booked to that strategy, key "manual-close-…", so its fills reduce that book and the
strategy hears of them as it hears of its own orders), largest share first and never
more than the account holds, and one order for the part no strategy holds (the trader's
own). A signal strategy then knows it is flat and does not sell again at its next exit.

A plain manual order (POST /api/orders, the admin's Place order) stays the trader's own:
it changes the account, not a strategy's book.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from exchanges.base import BUY, MARKET, SELL, Exchange
from trading.models import Order, OrderSource, Position, StrategyConfig, StrategyPosition
from trading.services.audit import Actor
from trading.services.orders import order_place
from trading.strategies.base import OrderIntent
from trading.strategies.technical import MANUAL_KEY_PREFIX
from xquant.errors import ConflictError

ZERO = Decimal("0")


@dataclass(frozen=True)
class CloseLeg:
    """One order of a close: a strategy's share, or (strategy None) the trader's part."""

    strategy: StrategyConfig | None
    side: str
    quantity: Decimal


def position_close_plan(*, position: Position) -> list[CloseLeg]:
    """The orders that would close `position` (what the confirmation shows)."""
    if position.quantity == 0:
        return []
    direction = 1 if position.quantity > 0 else -1
    side = SELL if direction > 0 else BUY
    books = [
        book
        for book in StrategyPosition.objects.select_related("strategy").filter(
            exchange=position.exchange,
            symbol=position.symbol,
            position_side=position.position_side,
        )
        if book.quantity * direction > 0
    ]
    books.sort(key=lambda book: (-abs(book.quantity), book.strategy_id))
    left = abs(position.quantity)
    legs = []
    for book in books:
        share = min(abs(book.quantity), left)
        if share <= 0:
            break
        legs.append(CloseLeg(strategy=book.strategy, side=side, quantity=share))
        left -= share
    if left > 0:
        legs.append(CloseLeg(strategy=None, side=side, quantity=left))
    return legs


def position_close(
    *,
    position: Position,
    exchange: Exchange,
    by: str,
    source: str = OrderSource.API,
    actor: Actor | None = None,
) -> list[Order]:
    """Close the position with reduce-only market orders as position_close_plan says,
    through the same filters, risk guards and order manager as every order."""

    position = Position.objects.get(pk=position.pk)
    legs = position_close_plan(position=position)
    if not legs:
        raise ConflictError(
            f"The {position.symbol} {position.position_side} position is already flat."
        )
    token = uuid.uuid4().hex[:12]
    # Binance refuses reduceOnly in hedge mode, where SELL LONG / BUY SHORT only close.
    reduce_only = position.position_side == "BOTH"
    orders = []
    for leg in legs:
        share = f"{leg.strategy.name}'s share" if leg.strategy else "the part no strategy holds"
        intent = OrderIntent(
            key=f"{MANUAL_KEY_PREFIX}close-{token}" if leg.strategy else "",
            symbol=position.symbol,
            side=leg.side,
            quantity=leg.quantity,
            order_type=MARKET,
            position_side=position.position_side,
            reduce_only=reduce_only,
            reason=f"position closed by {by}: {share}",
        )
        orders.append(
            order_place(
                intent=intent,
                exchange=exchange,
                source=source,
                strategy=leg.strategy,
                actor=actor,
            )
        )
    return orders
