"""Positions that differ from the exchange's, corrected when nothing can still move them."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from exchanges.base import Exchange, ExchangePosition
from trading.events import PositionUpdated, publish
from trading.models import (
    Fill,
    Order,
    OrderStatus,
    Position,
)
from trading.services.reconciliation.report import ReconcileReport

logger = logging.getLogger("trading.reconciliation")


def exchange_positions(exchange: Exchange, symbol: str) -> dict[str, ExchangePosition]:
    return {p.position_side: p for p in exchange.fetch_positions([symbol]) if p.symbol == symbol}


def correct_positions(
    exchange: Exchange,
    symbol: str,
    theirs: dict[str, ExchangePosition],
    read_at: datetime,
    report: ReconcileReport,
) -> None:
    """Take the exchange's positions where the record differs, but only when nothing can
    still move the record: an order in flight may have a fill on the exchange that its
    sender has yet to write, and a fill written since the positions were read may be
    newer than they are. Either way the next pass compares again."""
    ours = {
        p.position_side: p for p in Position.objects.filter(exchange=exchange.name, symbol=symbol)
    }
    differ = [
        side
        for side in set(theirs) | set(ours)
        if (theirs[side].quantity if side in theirs else Decimal("0"))
        != (ours[side].quantity if side in ours else Decimal("0"))
    ]
    if not differ:
        return
    in_flight = Order.objects.filter(
        exchange=exchange.name,
        symbol=symbol,
        status__in=[OrderStatus.PENDING, OrderStatus.SUBMITTING],
    ).exists()
    moved_since = Fill.objects.filter(
        exchange=exchange.name, symbol=symbol, created_at__gte=read_at
    ).exists()
    if in_flight or moved_since or any(s == symbol for s, _ in report.attention):
        logger.info(
            "%s position differs from the exchange's, left for the next pass: %s",
            symbol,
            "an order is in flight" if in_flight else "fills arrived meanwhile",
        )
        return
    for side in differ:
        exchange_position = theirs.get(side)
        quantity = exchange_position.quantity if exchange_position else Decimal("0")
        position = ours.get(side)
        position = position or Position(exchange=exchange.name, symbol=symbol, position_side=side)
        logger.warning(
            "%s %s position: record says %s, exchange says %s; taking the exchange's",
            symbol,
            side,
            position.quantity,
            quantity,
        )
        report.corrected_positions.append(
            f"{symbol} {side}: {position.quantity.normalize():f} → {quantity.normalize():f}"
        )
        position.quantity = quantity
        position.entry_price = (
            exchange_position.entry_price if exchange_position and quantity else Decimal("0")
        )
        if exchange_position and exchange_position.mark_price:
            position.mark_price = exchange_position.mark_price
            position.unrealized_pnl = exchange_position.unrealized_pnl
        elif quantity == 0:
            position.unrealized_pnl = Decimal("0")
        position.save()
        publish(PositionUpdated(position))
