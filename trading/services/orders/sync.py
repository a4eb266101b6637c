"""Following working orders on the exchange: fills, and orders that left the book."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

from exchanges.base import Exchange
from exchanges.errors import ExchangeError, OrderNotFoundError
from trading.models import OPEN_STATUSES, Order
from trading.selectors import orders_working
from trading.services.orders.apply import order_apply_state, order_record_fills
from trading.services.orders.closing import order_expire_unknown

logger = logging.getLogger("trading.orders")

#: Fills carry the exchange's time, submissions ours: a margin covers clock skew.
FILL_CLOCK_MARGIN = timedelta(seconds=60)


def orders_sync(
    *,
    exchange: Exchange,
    symbol: str,
    mark_price: Decimal | None = None,
    working: list[Order] | None = None,
) -> int:
    """Follow this symbol's working orders on the exchange: new fills, and orders that
    left the book (filled, canceled, expired). Returns how many orders changed.

    Every tick calls it, so the common cases are cheap: no working order (the tick
    read them: `working`), nothing; working orders all still on the book and unfilled
    since, one exchange call.
    """
    if working is None:
        working = list(orders_working(exchange_name=exchange.name, symbol=symbol))
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
    active = moved
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
    for exchange_order_id, order_fills in fills_by_order.items():
        order = by_exchange_id[exchange_order_id]
        if order_record_fills(order, order_fills, mark_price=mark_price):
            changed.add(order.pk)
    for order in active:
        if order.status in OPEN_STATUSES and order.client_order_id not in on_book:
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
        return order_expire_unknown(order)
    except ExchangeError as exc:
        logger.warning("could not refresh order %s: %s", order.client_order_id, exc.message)
        return order
    return order_apply_state(order=order, state=state, exchange=exchange)
