"""Resting limit orders filled when the book crosses them.

A resting order fills whole at its limit price, as maker, the first time anyone looks at
its symbol (a market snapshot, an order, open-orders or fill read, a cancel) while the
book crosses it: a buy once the ask is at or below its price, a sell once the bid is at
or above it. A reduce-only (or hedge-mode closing) order whose position has gone
expires instead, as on Binance.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal

from django.db import transaction

from exchanges.base import BUY, LIMIT, MarketSnapshot
from exchanges.models import OPEN_ORDER_STATUSES, PaperOrder, PaperPosition, PaperTrade
from exchanges.paper.account import Simulation, account_lock, position_for, positions_get
from exchanges.paper.fills import fill_apply, fills_save, may_fill, order_expire
from exchanges.paper.queries import open_orders_list

logger = logging.getLogger(__name__)


def crosses(order: PaperOrder, bid: Decimal, ask: Decimal) -> bool:
    """Whether the book (`bid`/`ask`) crosses a resting limit order."""
    if order.order_type != LIMIT or order.price is None:
        return False
    return order.price >= ask if order.side == BUY else order.price <= bid


def symbol_match(*, sim: Simulation, book: MarketSnapshot) -> list[PaperOrder]:
    """Fill the symbol's resting orders that `book` crosses; the symbol's open orders
    left, oldest first."""
    orders = open_orders_list(sim=sim, symbol=book.symbol)
    crossed = {order.pk for order in orders if crosses(order, book.bid, book.ask)}
    if not crossed:
        return orders
    resting_fill(sim=sim, order_ids=sorted(crossed), books={book.symbol: book})
    # Filled, expired, or gone meanwhile: none of them is open any more.
    return [order for order in orders if order.pk not in crossed]


def account_match(*, sim: Simulation) -> None:
    """Fill every resting order the book of its symbol crosses (before account-wide
    reads: balance, positions)."""
    resting = PaperOrder.objects.filter(
        account__name=sim.account_name, status__in=OPEN_ORDER_STATUSES, order_type=LIMIT
    ).only("id", "symbol", "side", "price", "order_type")
    books: dict[str, MarketSnapshot] = {}
    crossed: list[int] = []
    for order in resting:
        book = books.get(order.symbol)
        if book is None:
            book = books[order.symbol] = sim.feed.snapshot(order.symbol, sim.clock())
        if crosses(order, book.bid, book.ask):
            crossed.append(order.pk)
    if crossed:
        resting_fill(sim=sim, order_ids=crossed, books=books)


def resting_fill(
    *, sim: Simulation, order_ids: list[int], books: Mapping[str, MarketSnapshot]
) -> None:
    """Fill the resting orders (or expire those that may only reduce a position that
    has gone), by symbol then age, under the account lock. Orders another process
    filled or cancelled since they were read are left alone."""
    now = sim.clock()
    with transaction.atomic():
        account, _ = account_lock(sim=sim, now=now)
        # Re-read under the lock: another process may have filled or cancelled them.
        orders = list(
            PaperOrder.objects.select_for_update()
            .filter(
                account__name=sim.account_name, id__in=order_ids, status__in=OPEN_ORDER_STATUSES
            )
            .order_by("symbol", "id")
        )
        # A fill moves only its own symbol's position: the account's others are not read.
        positions = positions_get(sim=sim, symbols={order.symbol for order in orders})
        trades: list[PaperTrade] = []
        expired: list[PaperOrder] = []
        moved: dict[int, PaperPosition] = {}
        for order in orders:
            position = position_for(
                sim=sim,
                positions=positions,
                symbol=order.symbol,
                position_side=order.position_side,
                now=now,
            )
            assert order.price is not None, "only limit orders rest"
            if not may_fill(position, order):
                order_expire(account=account, order=order, now=now)
                expired.append(order)
                continue
            trades.append(
                fill_apply(
                    sim=sim,
                    account=account,
                    position=position,
                    order=order,
                    price=order.price,
                    is_maker=True,
                    now=now,
                )
            )
            moved[id(position)] = position
            book = books.get(order.symbol)
            logger.info(
                "paper: resting %s filled at %s (book %s/%s)",
                order,
                order.price,
                book.bid if book else "?",
                book.ask if book else "?",
            )
        if trades or expired:
            fills_save(
                account=account,
                trades=trades,
                expired=expired,
                positions=moved.values(),
                now=now,
            )
