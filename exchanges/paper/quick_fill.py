"""A resting order the book crosses, filled in one round trip instead of two.

The ledger fills resting orders under the account lock: one batch locks the account and
reads the positions and the orders, a second writes the fills (PaperLedger.fill_resting).
A ticking connection already holds what the fill is computed from: the order as its
book watch kept it, and the symbol's position as it last read or wrote it (kept here).
So it writes the fill at once, on conditions checked in the same batch after the
account row is locked, as every paper writer locks it first:

- the wallet and order margin change by amounts (the realised PnL less the fee; the
  order's reserved margin, read from its row), whatever other symbols did to them;
- the order is still open and as kept (quantity, price, filled quantity);
- the position still holds the numbers the fill was computed from.

If a condition fails, the batch fails as a whole (xquant.sql.expecting_one_row) and the
order takes the locking way. PostgreSQL only.
"""

from __future__ import annotations

import dataclasses
import logging

from django.db import DataError

from exchanges.base import ExchangeOrder, MarketSnapshot
from exchanges.models import OPEN_ORDER_STATUSES, PaperAccount, PaperOrder
from exchanges.paper import accounting as acc
from exchanges.paper.book_watch import orders_changed, orders_written
from xquant.sql import (
    Statement,
    batch_transaction,
    current_connection,
    expecting_one_row,
    placeholders,
    row_was_not_there,
    session_state,
)

logger = logging.getLogger("exchanges.paper.ledger")

_OPEN = sorted(OPEN_ORDER_STATUSES)
_ACCOUNT_CHANGE_SQL = f"""
    UPDATE {PaperAccount._meta.db_table}
       SET wallet_balance = wallet_balance + %s,
           order_margin = GREATEST(order_margin - COALESCE(
               (SELECT reserved_margin FROM {PaperOrder._meta.db_table} WHERE id = %s), 0), 0),
           updated_at = %s
     WHERE name = %s
"""  # noqa: S608 - the table names are ours, the values are parameters


def _kept() -> dict | None:
    db = current_connection()
    if db.vendor != "postgresql":
        return None
    return session_state(db, "paper positions kept", dict)


def keep_position(account: str, position) -> None:
    """The symbol's position as this connection just read it under the account lock or
    committed it (a PositionRow; not yet written ones, without an id, are not kept)."""
    kept = _kept()
    if kept is not None and position.id is not None:
        kept[(account, position.symbol, position.position_side)] = dataclasses.replace(position)


def fill_in_one_trip(ledger, order: ExchangeOrder, book: MarketSnapshot) -> bool:
    """Fill the resting `order` (as the book watch kept it) at its price in one round
    trip; False, with nothing written, when it must take the locking way."""
    kept = _kept()
    basis = kept.get((ledger.account_name, order.symbol, order.position_side)) if kept else None
    if basis is None:
        return False
    position = dataclasses.replace(basis)
    if not ledger.may_fill(position, order):
        return False  # it expires instead: the locking way
    now = ledger.clock()
    paper_order = _paper_order(ledger.account_name, order)
    # Filled against an account of zeros: what is left in it is the change.
    change = PaperAccount(name=ledger.account_name, wallet_balance=acc.ZERO)
    trade = ledger.fill(change, position, paper_order, order.price, is_maker=True, now=now)
    ledger.writes += 1
    order_write, trade_write = ledger.fill_writes(paper_order, trade)
    statements = [
        expecting_one_row(
            (_ACCOUNT_CHANGE_SQL, [change.wallet_balance, paper_order.pk, now, ledger.account_name])
        ),
        expecting_one_row(_if_as_kept(order_write, order)),
        trade_write,
        expecting_one_row(ledger.position_write(position, now, if_as=basis)),
        *orders_changed(ledger.account_name, order.symbol),
    ]
    try:
        with batch_transaction() as tx:
            results = tx.run(statements, commit=True)
            [(trade.id, _)] = results[2].rows
            ledger.remember_fills(paper_order, trade, tx)
            tx.on_commit(lambda: _written(ledger.account_name, order, position))
    except DataError as exc:
        if not row_was_not_there(exc):
            raise
        if kept is not None:
            kept.pop((ledger.account_name, order.symbol, order.position_side), None)
        return False
    logger.info(
        "paper: resting %s filled at %s (book %s/%s)", paper_order, order.price, book.bid, book.ask
    )
    return True


def _written(account: str, order: ExchangeOrder, position) -> None:
    keep_position(account, position)
    orders_written(account, order.symbol, removed={order.exchange_order_id})


def _paper_order(account: str, order: ExchangeOrder) -> PaperOrder:
    return PaperOrder(
        id=int(order.exchange_order_id),
        account_id=account,
        symbol=order.symbol,
        client_order_id=order.client_order_id,
        side=order.side,
        order_type=order.order_type,
        position_side=order.position_side,
        reduce_only=order.reduce_only,
        quantity=order.quantity,
        price=order.price,
        status=order.status,
        filled_quantity=order.filled_quantity,
    )


def _if_as_kept(order_write: Statement, order: ExchangeOrder) -> Statement:
    sql, params = order_write
    return (
        f"{sql} AND status IN ({placeholders(_OPEN)}) "
        "AND quantity = %s AND price = %s AND filled_quantity = %s",
        [*params, *_OPEN, order.quantity, order.price, order.filled_quantity],
    )
