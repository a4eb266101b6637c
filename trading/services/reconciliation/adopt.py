"""Theirs but not ours: open orders and fills that exist only on the exchange, adopted
(source "reconciliation"); a trade of an order of ours whose answer was lost is given
to that order, never adopted twice."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from exchanges.base import Exchange, ExchangeOrder
from exchanges.errors import ExchangeError, OrderNotFoundError
from trading.events import OrderUpdated, publish
from trading.models import (
    Fill,
    Order,
    OrderSource,
    OrderStatus,
)
from trading.services.fills import fills_record
from trading.services.orders import (
    STATUS_FROM_EXCHANGE,
    order_apply_state,
    order_fetch_fills,
)
from trading.services.reconciliation.report import FILL_LOOKBACK, ReconcileReport, needs_attention

logger = logging.getLogger("trading.reconciliation")


def adopt_open_orders(exchange: Exchange, symbol: str, report: ReconcileReport) -> None:
    for state in exchange.fetch_open_orders(symbol):
        if Order.objects.filter(client_order_id=state.client_order_id).exists():
            continue
        order = _adopt_order(exchange, state)
        report.adopted_orders.append(order.client_order_id)
        order_fetch_fills(order=order, exchange=exchange)


def _adopt_order(exchange: Exchange, state: ExchangeOrder) -> Order:
    status = STATUS_FROM_EXCHANGE[state.status]
    order = Order.objects.create(
        client_order_id=state.client_order_id[:36],
        exchange=exchange.name,
        exchange_order_id=state.exchange_order_id,
        symbol=state.symbol,
        side=state.side,
        order_type=state.order_type,
        position_side=state.position_side,
        reduce_only=state.reduce_only and state.position_side == "BOTH",
        quantity=state.quantity,
        price=state.price,
        status=status,
        filled_quantity=state.quantity if status == OrderStatus.FILLED else state.filled_quantity,
        average_price=state.average_price,
        source=OrderSource.RECONCILIATION,
        reason="found on the exchange, not placed by xQuant",
        submitted_at=state.updated_at,
    )
    logger.warning(
        "adopted %s order %s found only on the exchange", state.symbol, order.client_order_id
    )
    transaction.on_commit(lambda: publish(OrderUpdated(order)))
    return order


def adopt_fills(exchange: Exchange, symbol: str, report: ReconcileReport) -> None:
    latest = (
        Fill.objects.filter(exchange=exchange.name, symbol=symbol)
        .order_by("-executed_at")
        .values_list("executed_at", flat=True)
        .first()
    )
    since = (latest - timedelta(minutes=5)) if latest else timezone.now() - FILL_LOOKBACK
    fills = exchange.fetch_fills(symbol, since=since)
    by_exchange_id: dict[str, list] = {}
    for fill in fills:
        by_exchange_id.setdefault(fill.exchange_order_id, []).append(fill)
    for exchange_order_id, order_fills in by_exchange_id.items():
        order = Order.objects.filter(
            exchange=exchange.name, symbol=symbol, exchange_order_id=exchange_order_id
        ).first()
        if order is None:
            try:
                order = _owner_of_trades(exchange, symbol, exchange_order_id, order_fills, report)
            except ExchangeError as exc:
                needs_attention(
                    exchange,
                    symbol,
                    f"trade-of:{exchange_order_id}",
                    f"{len(order_fills)} trade(s) of exchange order {exchange_order_id} not "
                    f"recorded yet: the exchange could not say whose order it is ({exc.message})",
                    report,
                )
                continue
        for row in fills_record(order=order, fills=order_fills):
            report.adopted_fills.append(row.trade_id)


def _owner_of_trades(
    exchange: Exchange, symbol: str, exchange_order_id: str, fills: list, report
) -> Order:
    """The order row of trades no row claims yet. Trades carry no client order id, so
    the exchange is asked for the order: one of ours whose answer was lost (and whose
    lookups failed) takes its exchange order id and the trades; anything else is a
    stranger's order, adopted."""
    try:
        state = exchange.fetch_order_by_exchange_id(symbol, exchange_order_id)
    except OrderNotFoundError:
        state = None  # e.g. archived by the exchange: what the trades say is all there is
    ours = (
        Order.objects.filter(exchange=exchange.name, client_order_id=state.client_order_id).first()
        if state is not None and state.client_order_id
        else None
    )
    if ours is not None:
        before = ours.status
        order_apply_state(order=ours, state=state, exchange=exchange)
        report.resolved_orders.append(f"{ours.client_order_id}: {before} → {ours.status}")
        return ours
    if state is not None:
        order = _adopt_order(exchange, state)
    else:
        order = _adopt_order_from_fills(exchange, symbol, exchange_order_id, fills)
    report.adopted_orders.append(order.client_order_id)
    return order


def _adopt_order_from_fills(exchange, symbol, exchange_order_id, fills) -> Order:
    """A trade of an order we never saw (placed elsewhere and already finished): the
    order is recorded from its fills, as filled."""
    quantity = sum((f.quantity for f in fills), Decimal("0"))
    cost = sum((f.quantity * f.price for f in fills), Decimal("0"))
    first = fills[0]
    known_id = next((f.client_order_id for f in fills if f.client_order_id), None)
    client_order_id = (
        known_id
        if known_id and not Order.objects.filter(client_order_id=known_id).exists()
        else None
    )
    order = Order.objects.create(
        client_order_id=(client_order_id or f"adopted-{exchange_order_id}")[:36],
        exchange=exchange.name,
        exchange_order_id=exchange_order_id,
        symbol=symbol,
        side=first.side,
        order_type="MARKET",
        position_side=first.position_side,
        quantity=quantity,
        status=OrderStatus.FILLED,
        filled_quantity=quantity,
        average_price=(cost / quantity).quantize(Decimal("0.000000000001")),
        source=OrderSource.RECONCILIATION,
        reason="trades found on the exchange for an order xQuant did not place",
        submitted_at=first.executed_at,
        closed_at=fills[-1].executed_at,
    )
    logger.warning(
        "adopted %s order %s from %d fills found only on the exchange",
        symbol,
        exchange_order_id,
        len(fills),
    )
    return order
