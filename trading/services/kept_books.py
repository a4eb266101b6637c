"""Position books as this connection last wrote them, so that the next fill on a book
can be recorded in one round trip instead of two.

Recording a fill reads the books under their lock, then writes them (trading.services
.fills). A process that trades a symbol records fill after fill on the same books, and
what it wrote last is usually what is there: it keeps those values and writes the new
ones on the condition that the row still holds them (id, key and every number the new
values are computed from). Should anyone have changed the book since (another process's
fill, reconciliation), the condition fails, the batch fails with it (nothing of it is
written), and the fill is recorded the locking way.

PostgreSQL only (a conditional write that fails its batch needs a data-modifying WITH);
elsewhere every fill takes the locking way, where a round trip costs nothing.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from trading.models import Order, Position, PositionBook, StrategyPosition
from xquant.sql import Statement, current_connection, expecting_one_row, session_state

#: Columns a fill computes from: the write is conditional on all of them being as kept.
_BASIS = ("quantity", "entry_price", "realized_pnl", "fees_paid")
_KEPT_MAX = 10_000

Kept = tuple[Position, StrategyPosition | None]


def _kept() -> dict[tuple, PositionBook] | None:
    db = current_connection()
    if db.vendor != "postgresql":
        return None
    return session_state(db, "kept position books", dict)


def _keys(order: Order, position_side: str) -> tuple[tuple, tuple | None]:
    account = ("account", order.exchange, order.symbol, position_side)
    book = None if order.strategy_id is None else ("strategy", order.strategy_id, *account[1:])
    return account, book


def kept_books(order: Order, position_side: str) -> Kept | None:
    """The order's account position and strategy book as last kept (copies of what was
    committed: read them, do not change them), or None when either is not kept."""
    kept = _kept()
    if not kept:
        return None
    account_key, book_key = _keys(order, position_side)
    account = kept.get(account_key)
    book = kept.get(book_key) if book_key is not None else None
    if account is None or (book_key is not None and book is None):
        return None
    return account, book


def keep_books(order: Order, position_side: str, account: Position, book) -> None:
    """What was just committed for these books."""
    kept = _kept()
    if kept is None:
        return
    if len(kept) >= _KEPT_MAX:
        kept.clear()
    account_key, book_key = _keys(order, position_side)
    kept[account_key] = book_copy(account)
    if book_key is not None and book is not None:
        kept[book_key] = book_copy(book)


def forget_books(order: Order, position_side: str) -> None:
    kept = _kept()
    if kept:
        for key in _keys(order, position_side):
            kept.pop(key, None)


def book_copy(book: PositionBook) -> PositionBook:
    copy = type(book)()
    copy.__dict__.update({k: v for k, v in book.__dict__.items() if k != "_state"})
    copy._state.adding, copy._state.db = False, book._state.db
    return copy


def write_if_unchanged(
    book: PositionBook, basis: PositionBook, mark_price: Decimal | None, fill_price: Decimal
) -> Statement:
    """Write the book's new numbers if the row is still as `basis` (what they were
    computed from); the batch fails otherwise (xquant.sql.row_was_not_there). The mark
    is the given one, else the row's own, else the fill's price, as when the row is read
    under its lock; the statement answers with the mark and unrealised PnL written."""
    quote = connection.ops.quote_name
    meta = book._meta
    key = ["id", "exchange", "symbol", "position_side"]
    if isinstance(book, StrategyPosition):
        key.append("strategy_id")
    condition = " AND ".join(
        [f"{quote(meta.get_field(f).column)} = %s" for f in (*key, *_BASIS)]
        + [f"{quote('opened_at')} IS NOT DISTINCT FROM %s"]
    )
    mark = f"COALESCE(%s::numeric, {quote('mark_price')}, %s::numeric)"
    sql = (
        f"UPDATE {quote(meta.db_table)} SET "  # noqa: S608 - names from the model
        "quantity = %s, entry_price = %s, realized_pnl = %s, fees_paid = %s, "
        "opened_at = %s, marked_at = %s, updated_at = %s, "
        f"mark_price = {mark}, unrealized_pnl = %s::numeric * ({mark} - %s::numeric) "
        f"WHERE {condition}"
    )
    now: datetime = timezone.now()
    book.updated_at = now
    params = [
        book.quantity,
        book.entry_price,
        book.realized_pnl,
        book.fees_paid,
        book.opened_at,
        book.marked_at,
        now,
        mark_price,
        fill_price,
        book.quantity,
        mark_price,
        fill_price,
        book.entry_price,
        *(getattr(basis, meta.get_field(f).attname) for f in key),
        *(getattr(basis, f) for f in _BASIS),
        basis.opened_at,
    ]
    return expecting_one_row((sql, params), returning=("mark_price", "unrealized_pnl"))
