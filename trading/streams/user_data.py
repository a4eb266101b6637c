"""User-data events (ORDER_TRADE_UPDATE) recorded through the order and fill services.

An update goes through `order_apply_state`, the service the tick's sync and
reconciliation use: the order's status and filled quantity move on, and its fills are
recorded with the order in one transaction. That service asks the exchange for the
order's fills when it filled more; here they are answered from what is known (the
fills recorded before plus the one this event carries) when those add up to what the
exchange says was filled, which saves the REST call, and from REST when a fill is
missing (an event lost to a disconnection). Fills are unique per trade id, so an event
seen twice, or a trade the catch-up also finds, is recorded once.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal
from typing import Any

from exchanges.base import Exchange
from exchanges.base import Fill as ExchangeFill
from exchanges.streams.events import OrderUpdate
from trading.models import Fill, Order
from trading.services.orders import order_apply_state
from trading.services.reconciliation import ReconcileReport, reconcile

logger = logging.getLogger("trading.streams")

#: Orders younger than this are left to the trader that works them (see reconcile).
CATCH_UP_SETTLE_AFTER = timedelta(seconds=30)


class _StreamedFills:
    """The exchange, but `fetch_fills` for the updated order answers from the recorded
    fills and the event's own when they account for the whole filled quantity."""

    def __init__(self, exchange: Exchange, order: Order, update: OrderUpdate):
        self._exchange, self._order, self._update = exchange, order, update

    def __getattr__(self, name: str) -> Any:
        return getattr(self._exchange, name)

    def fetch_fills(self, symbol: str, *, since=None, exchange_order_id: str | None = None):
        if exchange_order_id is None or exchange_order_id != self._update.order.exchange_order_id:
            return self._exchange.fetch_fills(
                symbol, since=since, exchange_order_id=exchange_order_id
            )
        known = {
            f.trade_id: f for f in _recorded(self._order, self._update.order.exchange_order_id)
        }
        if self._update.fill is not None:
            known.setdefault(self._update.fill.trade_id, self._update.fill)
        total = sum((f.quantity for f in known.values()), Decimal("0"))
        if total >= self._update.order.filled_quantity:
            return list(known.values())
        logger.info(
            "order %s: fills of %s recorded and streamed, the exchange says %s filled: asking REST",
            self._order.client_order_id,
            total,
            self._update.order.filled_quantity,
        )
        return self._exchange.fetch_fills(symbol, exchange_order_id=exchange_order_id)


def _recorded(order: Order, exchange_order_id: str) -> list[ExchangeFill]:
    return [
        ExchangeFill(
            symbol=f.symbol,
            trade_id=f.trade_id,
            exchange_order_id=exchange_order_id,
            side=f.side,
            price=f.price,
            quantity=f.quantity,
            fee=f.fee,
            fee_asset=f.fee_asset,
            executed_at=f.executed_at,
            position_side=f.position_side,
            is_maker=f.is_maker,
            realized_pnl=f.exchange_realized_pnl,
        )
        for f in Fill.objects.filter(order=order)
    ]


def order_update_record(*, update: OrderUpdate, exchange: Exchange) -> Order | None:
    """Apply one ORDER_TRADE_UPDATE; None when the order is not ours (reconciliation
    adopts orders placed elsewhere, with their fills)."""
    state = update.order
    order = (
        Order.objects.filter(exchange=exchange.name, client_order_id=state.client_order_id).first()
        or Order.objects.filter(
            exchange=exchange.name, symbol=state.symbol, exchange_order_id=state.exchange_order_id
        ).first()
    )
    if order is None:
        logger.info(
            "stream: %s order %s (%s) is not in the record; the catch-up adopts it",
            state.symbol,
            state.client_order_id,
            state.exchange_order_id,
        )
        return None
    return order_apply_state(
        order=order, state=state, exchange=_StreamedFills(exchange, order, update)
    )


def streams_catch_up(*, exchange: Exchange, symbols: list[str]) -> ReconcileReport:
    """After a (re)connection: what the stream may have missed, over REST — open orders
    and their fills, fills since the last one recorded, orders and positions only on the
    exchange — through reconciliation, whose writes are the same services'."""
    return reconcile(exchange=exchange, symbols=symbols, settle_after=CATCH_UP_SETTLE_AFTER)
