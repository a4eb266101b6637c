"""Recording fills and what they do to positions.

A fill row and its effect on the account position and on its strategy's book are
written in one transaction, and the fill's (exchange, symbol, trade id) is unique in the
database: however many times an exchange reports a trade (a retried response, a tick's
sync, a stream event, a reconciliation), it moves positions once.

Every recorder locks the account position before it reads the known trades, so two
processes recording the same trade take turns, and the second sees the first's fill.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from exchanges.base import Fill as ExchangeFill
from trading.accounting import AccountingError, apply_fill, unrealized_pnl
from trading.events import FillCreated, PositionUpdated, publish
from trading.models import Fill, Order, Position, PositionBook, RealizedPnlHour, StrategyPosition
from trading.notifications import events as notice
from trading.notifications.services import notify

logger = logging.getLogger("trading.fills")

#: (executed_at, trade id): the order in which fills apply to a book.
FillKey = tuple[datetime, str]


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
    try:
        with transaction.atomic():
            rows, account = _record(order, fills, mark_price)
    except IntegrityError:
        # Recorders serialise on the account position, so only a fill row written some
        # other way gets here: go one by one, so the others are still recorded.
        return [
            row
            for fill in _in_execution_order(fills)
            if (row := fill_record(order=order, fill=fill, mark_price=mark_price))
        ]
    if rows:
        transaction.on_commit(lambda: _publish_fills(rows, account))
    return rows


def fill_record(
    *, order: Order, fill: ExchangeFill, mark_price: Decimal | None = None
) -> Fill | None:
    """Record one exchange fill of `order`; None when this trade was recorded before."""
    try:
        with transaction.atomic():
            rows, account = _record(order, [fill], mark_price)
    except IntegrityError:
        logger.info("fill %s of %s already recorded", fill.trade_id, fill.symbol)
        return None
    if not rows:
        return None
    transaction.on_commit(lambda: _publish_fills(rows, account))
    return rows[0]


def _in_execution_order(fills: list[ExchangeFill]) -> list[ExchangeFill]:
    """Oldest first, each trade once (a listing may repeat a trade)."""
    unique: dict[tuple[str, str], ExchangeFill] = {}
    for fill in sorted(fills, key=lambda f: (f.executed_at, f.trade_id)):
        unique.setdefault((fill.symbol, fill.trade_id), fill)
    return list(unique.values())


def _record(
    order: Order, fills: list[ExchangeFill], mark_price: Decimal | None
) -> tuple[list[Fill], Position]:
    """Lock the books, leave out the trades known, apply and write the new fills.
    Runs inside the caller's transaction."""
    account, book = _locked_books(order, fills[0].position_side)
    # Read after the locks, never before: every recorder locks the account position
    # first, so a process recording the same trades has either committed them (and
    # this reads them) or waits for us. Do not move this read up.
    known = _known_trades(order.exchange, fills)
    new = [f for f in _in_execution_order(fills) if (f.symbol, f.trade_id) not in known]
    if not new:
        return [], account
    newest = _newest_fill(order, new[0].position_side)
    corrections: list[tuple[Fill, Decimal]] = []
    if newest is not None and (new[0].executed_at, new[0].trade_id) < newest:
        rows, corrections = _replayed(order, new, account, book, mark_price)
    else:
        rows = _applied(order, new, account, book, mark_price)
    Fill.objects.bulk_create(rows)
    account.save()
    if book is not None:
        book.save()
    by_hour: dict[datetime, Decimal] = {}
    for row in rows:
        _add_to_hour(by_hour, row.executed_at, row.realized_pnl - row.fee)
    for fill, realized in corrections:
        _add_to_hour(by_hour, fill.executed_at, realized - fill.realized_pnl)
        Fill.objects.filter(pk=fill.pk).update(realized_pnl=realized)
    _realized_by_hour_add(order.exchange, by_hour)
    return rows, account


def _locked_books(order: Order, position_side: str) -> tuple[Position, StrategyPosition | None]:
    """The account position and the strategy's book, created if missing, locked."""
    key = {"exchange": order.exchange, "symbol": order.symbol, "position_side": position_side}
    account = _locked_book(Position, key)
    book = None
    if order.strategy_id is not None:
        book = _locked_book(StrategyPosition, {"strategy_id": order.strategy_id, **key})
    return account, book


def _locked_book(model: type[PositionBook], key: dict[str, Any]) -> Any:
    book = model.objects.select_for_update().filter(**key).first()
    if book is None:
        # Created without an error when another process just did; then locked and read.
        model.objects.bulk_create([model(**key)], ignore_conflicts=True)
        book = model.objects.select_for_update().get(**key)
    return book


def _known_trades(exchange: str, fills: list[ExchangeFill]) -> set[tuple[str, str]]:
    known = Fill.objects.filter(
        exchange=exchange,
        symbol__in={fill.symbol for fill in fills},
        trade_id__in={fill.trade_id for fill in fills},
    ).values_list("symbol", "trade_id")
    return set(known)


def _newest_fill(order: Order, position_side: str) -> FillKey | None:
    """(executed_at, trade id) of the account book's newest fill."""
    return _book_fills(order, position_side).values_list("executed_at", "trade_id").first()


def _add_to_hour(by_hour: dict[datetime, Decimal], at: datetime, amount: Decimal) -> None:
    hour = at.replace(minute=0, second=0, microsecond=0)
    by_hour[hour] = by_hour.get(hour, Decimal("0")) + amount


def _realized_by_hour_add(exchange: str, by_hour: dict[datetime, Decimal]) -> None:
    """Add to each hour's row, creating it if needed (no error when another process
    creates it meanwhile: the add then goes onto theirs). The row of the hour usually
    exists already, so the insert is tried only when the add finds none."""
    for hour, amount in by_hour.items():
        row = RealizedPnlHour.objects.filter(exchange=exchange, hour=hour)
        add = {"realized_net": F("realized_net") + amount}
        if not row.update(**add):
            RealizedPnlHour.objects.bulk_create(
                [RealizedPnlHour(exchange=exchange, hour=hour)], ignore_conflicts=True
            )
            row.update(**add)


def _applied(
    order: Order,
    new: list[ExchangeFill],
    account: Position,
    book: StrategyPosition | None,
    mark_price: Decimal | None,
) -> list[Fill]:
    """Fill rows for the new fills, applied in order to the books in memory."""
    rows = []
    for fill in new:
        row = _fill_row(order, fill)
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
    return rows


def _book_fills(order: Order, position_side: str):
    """The account book's recorded fills, newest (in execution order) first."""
    return Fill.objects.filter(
        exchange=order.exchange, symbol=order.symbol, position_side=position_side
    ).order_by("-executed_at", "-trade_id")


def _replayed(
    order: Order,
    new: list[ExchangeFill],
    account: Position,
    book: StrategyPosition | None,
    mark_price: Decimal | None,
) -> tuple[list[Fill], list[tuple[Fill, Decimal]]]:
    """New fills older than fills already on the account book (learnt late, e.g. by
    another process or a later pass): the book is replayed in execution order from the
    last time it was flat before them, so each fill's realised PnL and the entry price
    are what the exchange computes. Returns the new rows and the statements that correct
    the realised PnL of the fills recorded since: (fill, its realised PnL replayed).

    The flat point is found by walking back from the book's quantity over its fills; if
    the walk finds none (the book was corrected to the exchange's since), the new fills
    are applied as they come, and the mismatch is logged. A strategy's book takes the
    new fills as they come: only the account's per-fill PnL is compared with the
    exchange's."""
    position_side = new[0].position_side
    first = (new[0].executed_at, new[0].trade_id)
    tail: list[Fill] = []
    quantity = account.quantity
    for recorded in _book_fills(order, position_side).iterator():
        tail.append(recorded)
        quantity -= recorded.quantity if recorded.side == "BUY" else -recorded.quantity
        if quantity == 0 and (recorded.executed_at, recorded.trade_id) <= first:
            break
    else:
        logger.warning(
            "%s fills arrived out of execution order and the book has no flat point to "
            "replay from (corrected since?); applied as they came",
            order.symbol,
        )
        return _applied(order, new, account, book, mark_price), []

    replay = Position(
        quantity=Decimal("0"),
        entry_price=Decimal("0"),
        realized_pnl=account.realized_pnl
        - sum((r.realized_pnl - r.fee for r in tail), Decimal("0")),
        fees_paid=account.fees_paid - sum((r.fee for r in tail), Decimal("0")),
        mark_price=account.mark_price,
    )
    rows = [_fill_row(order, f) for f in new]
    corrections: list[tuple[Fill, Decimal]] = []
    for fill in sorted([*tail, *rows], key=lambda f: (f.executed_at, f.trade_id)):
        realized = _apply(replay, fill, mark_price)
        if fill.pk is None:
            fill.realized_pnl = realized
        elif realized != fill.realized_pnl:
            corrections.append((fill, realized))
    for name in ("quantity", "entry_price", "realized_pnl", "fees_paid", "opened_at",
                 "mark_price", "unrealized_pnl", "marked_at"):  # fmt: skip
        setattr(account, name, getattr(replay, name))
    if book is not None:
        for row in rows:
            _apply(book, row, mark_price)
    logger.info(
        "%s: %d fill(s) learnt out of execution order; replayed %d fill(s) from the last flat point",
        order.symbol,
        len(new),
        len(tail),
    )
    return rows, corrections


def _fill_row(order: Order, fill: ExchangeFill) -> Fill:
    return Fill(
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
        exchange_realized_pnl=fill.realized_pnl,
    )


def _publish_fills(rows: list[Fill], position: Position) -> None:
    for row in rows:
        publish(FillCreated(row))
    publish(PositionUpdated(position))
    notify(*(notice.fill_notice(row) for row in rows))


def fills_reassign(*, source: Order, target: Order) -> int:
    """Move the fills recorded on `source` to `target`, the same exchange order under
    another row (reconciliation adopted a trade of ours before our lookup found it).

    The account position already holds them and stays as it is; the target's strategy
    book takes them now, in execution order. Returns how many moved. The caller holds
    both order rows locked, in its transaction."""
    moved = list(Fill.objects.filter(order=source).order_by("executed_at", "trade_id"))
    if not moved:
        return 0
    Fill.objects.filter(pk__in=[f.pk for f in moved]).update(
        order=target, strategy=target.strategy_id
    )
    if target.strategy_id is not None:
        books: dict[str, StrategyPosition] = {}
        for fill in moved:
            book = books.get(fill.position_side)
            if book is None:
                StrategyPosition.objects.get_or_create(
                    strategy_id=target.strategy_id,
                    exchange=target.exchange,
                    symbol=target.symbol,
                    position_side=fill.position_side,
                )
                book = books[fill.position_side] = StrategyPosition.objects.select_for_update().get(
                    strategy_id=target.strategy_id,
                    exchange=target.exchange,
                    symbol=target.symbol,
                    position_side=fill.position_side,
                )
            try:
                _apply(book, fill, None)
            except AccountingError as exc:
                logger.error(
                    "fill %s moved to %s does not fit its strategy's book (%s)",
                    fill.trade_id,
                    target.client_order_id,
                    exc,
                )
        for book in books.values():
            book.save()
    return len(moved)
