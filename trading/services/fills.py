"""Recording fills and what they do to positions.

A fill row and its effect on the account position and on its strategy's book are
written in one transaction, and the fill's (exchange, symbol, trade id) is unique in the
database: however many times an exchange reports a trade (a retried response, a tick's
sync, a reconciliation), it moves positions once.

Recording is on the tick's hot path, where round trips to the database cost more than
the work, so a call is two batches (xquant.sql) inside its transaction: lock the books
(creating them if missing) and read which trades are known, then write everything.
Every recorder locks the account position before it reads the known trades, so two
processes recording the same trade take turns, and the second sees the first's fill.
On books this connection wrote last it is one batch, written only if they are still as
it wrote them (trading.services.kept_books); otherwise it falls back to the above.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import DataError, IntegrityError, connection, transaction

from exchanges.base import Fill as ExchangeFill
from trading.accounting import AccountingError, apply_fill, unrealized_pnl
from trading.models import Fill, Order, Position, PositionBook, RealizedPnlHour, StrategyPosition
from trading.notifications import events as notice
from trading.notifications.services import notify
from trading.services.kept_books import (
    Kept,
    book_copy,
    forget_books,
    keep_books,
    kept_books,
    write_if_unchanged,
)
from xquant import realtime
from xquant.sql import (
    BatchTransaction,
    Result,
    Statement,
    batch_transaction,
    insert_statement,
    model_columns,
    model_from_row,
    placeholders,
    row_was_not_there,
    update_statement,
)

logger = logging.getLogger("trading.fills")


_UNKNOWN = object()


class _NotNewest(Exception):
    """A fill to record on kept books is older than one already on them."""


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
    rows, _ = fills_record_with(order=order, fills=fills, mark_price=mark_price)
    return rows


def fills_record_with(
    *,
    order: Order,
    fills: list[ExchangeFill],
    mark_price: Decimal | None = None,
    also: Sequence[Statement] = (),
) -> tuple[list[Fill], list[Result]]:
    """fills_record, writing `also` with the new fills (same round trip, same
    transaction). Returns the new Fill rows and the results of `also`, which is run
    only when there are new fills and the rows went in together (else: [])."""
    if not fills:
        return [], []
    kept = kept_books(order, fills[0].position_side)
    if kept is not None:
        try:
            with batch_transaction() as tx:
                rows, account, also_results = _record_on_kept(
                    tx, order, fills, kept, mark_price, also
                )
        except (IntegrityError, DataError, _NotNewest) as exc:
            if isinstance(exc, DataError) and not row_was_not_there(exc):
                raise
            # A book moved, a trade was recorded before or is older than one there: the
            # locking way sorts it out.
            forget_books(order, fills[0].position_side)
        else:
            transaction.on_commit(lambda: _publish_fills(rows, account))
            return rows, also_results
    try:
        with batch_transaction() as tx:
            rows, account, also_results = _record(tx, order, fills, mark_price, also)
    except IntegrityError:
        # Recorders serialise on the account position, so only a fill row written some
        # other way gets here: go one by one, so the others are still recorded.
        rows = [
            row
            for fill in _in_execution_order(fills)
            if (row := fill_record(order=order, fill=fill, mark_price=mark_price))
        ]
        return rows, []
    if rows:
        transaction.on_commit(lambda: _publish_fills(rows, account))
    return rows, also_results


def fill_record(
    *, order: Order, fill: ExchangeFill, mark_price: Decimal | None = None
) -> Fill | None:
    """Record one exchange fill of `order`; None when this trade was recorded before."""
    try:
        with batch_transaction() as tx:
            rows, account, _ = _record(tx, order, [fill], mark_price)
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
    tx: BatchTransaction,
    order: Order,
    fills: list[ExchangeFill],
    mark_price: Decimal | None,
    also: Sequence[Statement] = (),
) -> tuple[list[Fill], Position, list[Result]]:
    """Two round trips: lock the books and read which trades are known; write the new
    fills and what they did, and commit (skipped when nothing is new)."""
    account, book, known, newest = _lock_books_and_read_known(tx, order, fills)
    new = [f for f in _in_execution_order(fills) if (f.symbol, f.trade_id) not in known]
    corrections: list[Statement] = []
    if new and newest is not None and (new[0].executed_at, new[0].trade_id) < newest:
        rows, corrections = _replayed(order, new, account, book, mark_price)
    else:
        rows = _applied(order, new, account, book, mark_price)
    # Kept with the books: a fill older than this must not be recorded on them as kept.
    account.newest_fill = max(filter(None, [newest, _newest_key(rows)]), default=None)
    also_results = (
        _write(tx, order.exchange, rows, account, book, [*corrections, *also])[len(corrections) :]
        if rows
        else []
    )
    position_side = fills[0].position_side
    tx.on_commit(lambda: keep_books(order, position_side, account, book))
    return rows, account, also_results


def _record_on_kept(
    tx: BatchTransaction,
    order: Order,
    fills: list[ExchangeFill],
    kept: Kept,
    mark_price: Decimal | None,
    also: Sequence[Statement],
) -> tuple[list[Fill], Position, list[Result]]:
    """One round trip: the fills applied to the books as this connection last wrote
    them, written on the condition that the books are still so (kept_books) and that no
    trade was recorded before (the unique trade id). Fails, writing nothing, otherwise."""
    basis_account, basis_book = kept
    ordered = _in_execution_order(fills)
    newest = getattr(basis_account, "newest_fill", _UNKNOWN)
    if newest is _UNKNOWN or (newest and (ordered[0].executed_at, ordered[0].trade_id) < newest):
        raise _NotNewest  # older than a fill on the books: replayed the locking way
    account = book_copy(basis_account)
    book = book_copy(basis_book) if basis_book is not None else None
    rows = _applied(order, ordered, account, book, mark_price)
    account.newest_fill = max(filter(None, [newest, _newest_key(rows)]))
    fill_price = rows[-1].price
    # The books first: every recorder locks them before it writes a fill.
    statements = [write_if_unchanged(account, basis_account, mark_price, fill_price)]
    if book is not None:
        statements.append(write_if_unchanged(book, basis_book, mark_price, fill_price))
    statements += [insert_statement(row, returning=("id",)) for row in rows]
    statements += _realized_by_hour_statements(order.exchange, rows)
    results = tx.run([*statements, *also], commit=True)
    written = [b for b in (account, book) if b is not None]
    for changed, result in zip(written, results, strict=False):
        [(_, changed.mark_price, changed.unrealized_pnl)] = result.rows
    fill_results = results[len(written) : len(written) + len(rows)]
    for row, result in zip(rows, fill_results, strict=True):
        _saved(row, result.rows[0][0])
    position_side = fills[0].position_side
    tx.on_commit(lambda: keep_books(order, position_side, account, book))
    return rows, account, results[len(statements) :]


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


def _lock_books_and_read_known(
    tx: BatchTransaction, order: Order, fills: list[ExchangeFill]
) -> tuple[Position, StrategyPosition | None, set[tuple[str, str]], tuple | None]:
    """The account position and the strategy's book, created if missing and locked, the
    (symbol, trade id) of the fills recorded before, and (executed_at, trade id) of the
    account book's newest fill; one round trip."""
    account_key = {
        "exchange": order.exchange,
        "symbol": order.symbol,
        "position_side": fills[0].position_side,
    }
    statements = _book_lock_statements(Position, account_key)
    if order.strategy_id is not None:
        book_key = {"strategy_id": order.strategy_id, **account_key}
        statements += _book_lock_statements(StrategyPosition, book_key)
    # Read after the locks, never before: every recorder locks the account position
    # first, so a process recording the same trades has either committed them (and
    # this reads them) or waits for us. Do not move this statement up.
    statements.append(_known_trades_statement(order.exchange, fills))
    statements.append(_newest_fill_statement(account_key))
    results = tx.run(statements)
    account = model_from_row(Position, results[1].rows[0])
    book = (
        model_from_row(StrategyPosition, results[3].rows[0])
        if order.strategy_id is not None
        else None
    )
    known = {(symbol, trade_id) for symbol, trade_id in results[-2].rows}
    newest = _newest_key([model_from_row(Fill, row) for row in results[-1].rows])
    return account, book, known, newest


def _newest_fill_statement(account_key: dict[str, Any]) -> Statement:
    quote = connection.ops.quote_name
    sql = (
        f"SELECT {model_columns(Fill)} FROM {quote(Fill._meta.db_table)} "  # noqa: S608 - names from the model
        "WHERE exchange = %s AND symbol = %s AND position_side = %s "
        "ORDER BY executed_at DESC, trade_id DESC LIMIT 1"
    )
    return sql, [account_key["exchange"], account_key["symbol"], account_key["position_side"]]


def _book_fills(order: Order, position_side: str):
    """The account book's recorded fills, newest (in execution order) first."""
    return Fill.objects.filter(
        exchange=order.exchange, symbol=order.symbol, position_side=position_side
    ).order_by("-executed_at", "-trade_id")


def _newest_key(rows) -> tuple | None:
    return max(((r.executed_at, r.trade_id) for r in rows), default=None)


def _replayed(
    order: Order,
    new: list[ExchangeFill],
    account: Position,
    book: StrategyPosition | None,
    mark_price: Decimal | None,
) -> tuple[list[Fill], list[Statement]]:
    """New fills older than fills already on the account book (learnt late, e.g. by
    another process or a later pass): the book is replayed in execution order from the
    last time it was flat before them, so each fill's realised PnL and the entry price
    are what the exchange computes. Returns the new rows and the statements that correct
    the realised PnL of the fills recorded since (and the hours it was booked in).

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
    corrections: list[Statement] = []
    for fill in sorted([*tail, *rows], key=lambda f: (f.executed_at, f.trade_id)):
        realized = _apply(replay, fill, mark_price)
        if fill.pk is None:
            fill.realized_pnl = realized
        elif realized != fill.realized_pnl:
            corrections.append(_fill_realized_statement(fill.pk, realized))
            hour = fill.executed_at.replace(minute=0, second=0, microsecond=0)
            corrections.append(
                _realized_add_statement(order.exchange, hour, realized - fill.realized_pnl)
            )
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


def _fill_realized_statement(fill_id: int, realized: Decimal) -> Statement:
    quote = connection.ops.quote_name
    return (
        f"UPDATE {quote(Fill._meta.db_table)} SET realized_pnl = %s WHERE id = %s",  # noqa: S608
        [Fill._meta.get_field("realized_pnl").get_db_prep_value(realized, connection), fill_id],
    )


def _book_lock_statements(model: type[PositionBook], key: dict[str, Any]) -> list[Statement]:
    """Create the book unless it exists (no error when another process just did), then
    lock it and read it whole."""
    quote = connection.ops.quote_name
    meta = model._meta
    columns = model_columns(model)
    condition = " AND ".join(f"{quote(meta.get_field(name).column)} = %s" for name in key)
    # SQLite has no row locks: its write transactions take the whole database.
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    select = f"SELECT {columns} FROM {quote(meta.db_table)} WHERE {condition}{lock}"  # noqa: S608 - names from the model
    return [
        insert_statement(model(**key), returning=(), ignore_conflicts=True),
        (select, list(key.values())),
    ]


def _known_trades_statement(exchange: str, fills: list[ExchangeFill]) -> Statement:
    symbols = sorted({fill.symbol for fill in fills})
    trade_ids = sorted({fill.trade_id for fill in fills})
    sql = (
        f"SELECT symbol, trade_id FROM {connection.ops.quote_name(Fill._meta.db_table)} "  # noqa: S608 - names from the model
        f"WHERE exchange = %s AND symbol IN ({placeholders(symbols)}) "
        f"AND trade_id IN ({placeholders(trade_ids)})"
    )
    return sql, [exchange, *symbols, *trade_ids]


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


def _write(
    tx: BatchTransaction,
    exchange: str,
    rows: list[Fill],
    account: Position,
    book: StrategyPosition | None,
    also: Sequence[Statement],
) -> list[Result]:
    """The new fill rows, the books (every column, as save() writes them), the hourly
    PnL and `also`, in one round trip; the fill rows get their ids. Returns the results
    of `also`."""
    statements = [insert_statement(row, returning=("id",)) for row in rows]
    for changed in (account, book):
        if changed is not None:
            fields = [f.name for f in changed._meta.concrete_fields if not f.primary_key]
            statements.append(update_statement(changed, fields))
    statements += _realized_by_hour_statements(exchange, rows)
    results = tx.run([*statements, *also], commit=True)
    for row, result in zip(rows, results[: len(rows)], strict=True):
        _saved(row, result.rows[0][0])
    return results[len(statements) :]


def _saved(row: Fill, pk: int) -> None:
    row.pk = pk
    row._state.adding = False
    row._state.db = connection.alias


def _realized_by_hour_statements(exchange: str, rows: list[Fill]) -> list[Statement]:
    by_hour: dict = {}
    for row in rows:
        hour = row.executed_at.replace(minute=0, second=0, microsecond=0)
        by_hour[hour] = by_hour.get(hour, Decimal("0")) + row.realized_pnl - row.fee
    return [_realized_add_statement(exchange, hour, amount) for hour, amount in by_hour.items()]


def _realized_add_statement(exchange: str, hour: datetime, amount: Decimal) -> Statement:
    """Add to the hour's row, creating it if needed: an upsert, so a row another process
    creates meanwhile needs no retry. The conflict target is realized_pnl_hour_unique."""
    quote = connection.ops.quote_name
    table = quote(RealizedPnlHour._meta.db_table)
    net = quote("realized_net")
    sql, params = insert_statement(
        RealizedPnlHour(exchange=exchange, hour=hour, realized_net=amount), returning=()
    )
    sql += (
        f" ON CONFLICT ({quote('exchange')}, {quote('hour')}) "
        f"DO UPDATE SET {net} = {table}.{net} + EXCLUDED.{net}"
    )
    return sql, params


def _publish_fills(rows: list[Fill], position: Position) -> None:
    for row in rows:
        _publish_fill(row)
    publish_position(position)
    notify(*(notice.fill_notice(row) for row in rows))


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
