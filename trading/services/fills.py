"""Recording fills and what they do to positions.

A fill row and its effect on the account position and on its strategy's book are
written in one transaction, and the fill's (exchange, symbol, trade id) is unique in the
database: however many times an exchange reports a trade (a retried response, a tick's
sync, a reconciliation), it moves positions once.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from exchanges.base import Fill as ExchangeFill
from trading.accounting import AccountingError, apply_fill, unrealized_pnl
from trading.models import Fill, Order, Position, PositionBook, RealizedPnlHour, StrategyPosition
from xquant import realtime

logger = logging.getLogger("trading.fills")


def _book_for_update(model: type[PositionBook], **key: Any) -> PositionBook:
    book = model.objects.select_for_update().filter(**key).first()
    if book is not None:
        return book
    try:
        with transaction.atomic():
            return model.objects.create(**key)
    except IntegrityError:  # created by another process a moment ago
        return model.objects.select_for_update().get(**key)


def _apply(book: PositionBook, fill: Fill, mark: Decimal | None) -> Decimal:
    """Apply a fill to a book in memory (the caller saves it); returns realised PnL."""
    was_flat = book.quantity == 0
    realized = apply_fill(
        book,
        side=fill.side,
        position_side=fill.position_side,
        quantity=fill.quantity,
        price=fill.price,
        fee=fill.fee,
    )
    if was_flat and book.quantity != 0:
        book.opened_at = fill.executed_at
    elif book.quantity == 0:
        book.opened_at = None
    mark = mark or book.mark_price or fill.price
    book.mark_price = mark
    book.unrealized_pnl = unrealized_pnl(book.quantity, book.entry_price, mark)
    book.marked_at = fill.executed_at
    return realized


def fills_record(
    *, order: Order, fills: list[ExchangeFill], mark_price: Decimal | None = None
) -> list[Fill]:
    """Record exchange fills of `order` not recorded before, and apply them to the
    account position and the strategy's book, all in one transaction. Returns the new
    Fill rows (in execution order)."""
    if not fills:
        return []
    known = set(
        Fill.objects.filter(
            exchange=order.exchange, symbol=order.symbol, trade_id__in=[f.trade_id for f in fills]
        ).values_list("trade_id", flat=True)
    )
    new = sorted(
        (f for f in fills if f.trade_id not in known), key=lambda f: (f.executed_at, f.trade_id)
    )
    if not new:
        return []
    try:
        with transaction.atomic():
            rows, account = _record(order, new, mark_price)
    except IntegrityError:
        # Another process recorded some of them meanwhile: go one by one.
        return [
            row
            for fill in new
            if (row := fill_record(order=order, fill=fill, mark_price=mark_price))
        ]
    transaction.on_commit(lambda: _publish_fills(rows, account))
    return rows


def fill_record(
    *, order: Order, fill: ExchangeFill, mark_price: Decimal | None = None
) -> Fill | None:
    """Record one exchange fill of `order`; None when this trade was recorded before."""
    if Fill.objects.filter(
        exchange=order.exchange, symbol=fill.symbol, trade_id=fill.trade_id
    ).exists():
        return None
    try:
        with transaction.atomic():
            rows, account = _record(order, [fill], mark_price)
    except IntegrityError:
        logger.info("fill %s of %s already recorded", fill.trade_id, fill.symbol)
        return None
    transaction.on_commit(lambda: _publish_fills(rows, account))
    return rows[0]


def _record(
    order: Order, fills: list[ExchangeFill], mark_price: Decimal | None
) -> tuple[list[Fill], Position]:
    position_side = fills[0].position_side
    account = _book_for_update(
        Position, exchange=order.exchange, symbol=order.symbol, position_side=position_side
    )
    book = None
    if order.strategy_id is not None:
        book = _book_for_update(
            StrategyPosition,
            strategy_id=order.strategy_id,
            exchange=order.exchange,
            symbol=order.symbol,
            position_side=position_side,
        )
    rows = []
    for fill in fills:
        row = Fill(
            order=order,
            strategy_id=order.strategy_id,
            exchange=order.exchange,
            symbol=fill.symbol,
            trade_id=fill.trade_id,
            side=fill.side,
            position_side=fill.position_side,
            price=fill.price,
            quantity=fill.quantity,
            fee=fill.fee,
            fee_asset=fill.fee_asset,
            is_maker=fill.is_maker,
            executed_at=fill.executed_at,
        )
        try:
            row.realized_pnl = _apply(account, row, mark_price)
            if book is not None:
                _apply(book, row, mark_price)
        except AccountingError as exc:
            # The exchange says the trade happened, so the fill is recorded; the position
            # it contradicts is out of step with the exchange, and reconciliation (which
            # takes the exchange's positions as the truth) puts it right.
            logger.error(
                "fill %s of order %s does not fit the recorded position (%s); left for reconciliation",
                row.trade_id,
                order.client_order_id,
                exc,
            )
        rows.append(row)
    Fill.objects.bulk_create(rows)
    account.save()
    if book is not None:
        book.save()
    _add_realized_by_hour(order.exchange, rows)
    return rows, account


def _add_realized_by_hour(exchange: str, rows: list[Fill]) -> None:
    by_hour: dict = {}
    for row in rows:
        hour = row.executed_at.replace(minute=0, second=0, microsecond=0)
        by_hour[hour] = by_hour.get(hour, Decimal("0")) + row.realized_pnl - row.fee
    for hour, amount in by_hour.items():
        if not RealizedPnlHour.objects.filter(exchange=exchange, hour=hour).update(
            realized_net=F("realized_net") + amount
        ):
            try:
                with transaction.atomic():
                    RealizedPnlHour.objects.create(
                        exchange=exchange, hour=hour, realized_net=amount
                    )
            except IntegrityError:  # another process created the hour meanwhile
                RealizedPnlHour.objects.filter(exchange=exchange, hour=hour).update(
                    realized_net=F("realized_net") + amount
                )


def _publish_fills(rows: list[Fill], position: Position) -> None:
    for row in rows:
        _publish_fill(row)
    publish_position(position)


def _publish_fill(fill: Fill) -> None:
    realtime.publish(
        realtime.DASHBOARD_GROUP,
        "fill.created",
        {
            "id": fill.pk,
            "order_id": fill.order_id,
            "strategy_id": fill.strategy_id,
            "symbol": fill.symbol,
            "side": fill.side,
            "position_side": fill.position_side,
            "price": fill.price,
            "quantity": fill.quantity,
            "fee": fill.fee,
            "realized_pnl": fill.realized_pnl,
            "executed_at": fill.executed_at,
        },
    )


def position_payload(position: Position) -> dict[str, Any]:
    return {
        "id": position.pk,
        "symbol": position.symbol,
        "position_side": position.position_side,
        "quantity": position.quantity,
        "entry_price": position.entry_price,
        "mark_price": position.mark_price,
        "unrealized_pnl": position.unrealized_pnl,
        "realized_pnl": position.realized_pnl,
        "fees_paid": position.fees_paid,
    }


def publish_position(position: Position) -> None:
    realtime.publish(realtime.DASHBOARD_GROUP, "position.updated", position_payload(position))
