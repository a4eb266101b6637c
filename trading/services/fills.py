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
from django.utils import timezone

from exchanges.base import Fill as ExchangeFill
from trading.accounting import AccountingError, apply_fill, unrealized_pnl
from trading.models import Fill, Order, Position, PositionBook, StrategyPosition
from xquant import realtime

logger = logging.getLogger("trading.fills")


def _book_for_update(model: type[PositionBook], **key: Any) -> PositionBook:
    book, _ = model.objects.select_for_update().get_or_create(**key)
    return book


def _apply(book: PositionBook, fill: Fill, mark: Decimal | None) -> Decimal:
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
    book.save()
    return realized


def _apply_to_books(order: Order, row: Fill, mark_price: Decimal | None) -> Position:
    account = _book_for_update(
        Position, exchange=order.exchange, symbol=row.symbol, position_side=row.position_side
    )
    try:
        with transaction.atomic():
            row.realized_pnl = _apply(account, row, mark_price)
            row.save(update_fields=["realized_pnl"])
            if order.strategy_id is not None:
                book = _book_for_update(
                    StrategyPosition,
                    strategy_id=order.strategy_id,
                    exchange=order.exchange,
                    symbol=row.symbol,
                    position_side=row.position_side,
                )
                _apply(book, row, mark_price)
    except AccountingError as exc:
        # The exchange says the trade happened, so the fill stays recorded; the position
        # it contradicts is out of step with the exchange, and reconciliation (which
        # takes the exchange's positions as the truth) puts it right.
        logger.error(
            "fill %s of order %s does not fit the recorded position (%s); left for reconciliation",
            row.trade_id,
            order.client_order_id,
            exc,
        )
        account.refresh_from_db()
    return account


def fill_record(
    *, order: Order, fill: ExchangeFill, mark_price: Decimal | None = None
) -> Fill | None:
    """Record one exchange fill of `order` and apply it to the positions.

    Returns the new Fill, or None when this trade was recorded before.
    """
    if Fill.objects.filter(
        exchange=order.exchange, symbol=fill.symbol, trade_id=fill.trade_id
    ).exists():
        return None
    try:
        with transaction.atomic():
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
            row.save()
            account = _apply_to_books(order, row, mark_price)
    except IntegrityError:
        # Another process recorded the same trade a moment ago.
        logger.info("fill %s of %s already recorded", fill.trade_id, fill.symbol)
        return None
    transaction.on_commit(lambda: _publish_fill(row, account))
    return row


def _publish_fill(fill: Fill, position: Position) -> None:
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
    publish_position(position)


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


def positions_mark(*, exchange_name: str, symbol: str, mark_price: Decimal) -> list[Position]:
    """Mark every book of a symbol to the mid: unrealised PnL of accounts and strategies.

    Returns the account positions that are not flat (their PnL moved).
    """
    now = timezone.now()
    changed: list[Position] = []
    for model in (Position, StrategyPosition):
        books = list(
            model.objects.filter(exchange=exchange_name, symbol=symbol).exclude(quantity=0)
        )
        for book in books:
            book.mark_price = mark_price
            book.unrealized_pnl = unrealized_pnl(book.quantity, book.entry_price, mark_price)
            book.marked_at = now
        if books:
            model.objects.bulk_update(books, ["mark_price", "unrealized_pnl", "marked_at"])
        if model is Position:
            changed = books
    return changed
