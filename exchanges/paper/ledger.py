"""The paper exchange's book-keeping in the database: the account row and its lock,
positions, margin, fills, and the matching of resting limit orders against the feed.

Every write runs in a transaction that first locks the account row (SELECT ... FOR
UPDATE; on SQLite the IMMEDIATE transaction is the lock), so writers from any process
take turns; reads run without a lock.

A PostgreSQL round trip costs far more than the work of a fill, so the hot paths (an
order, the fill of resting orders) read everything they need under the lock in one batch
of plain SQL and write everything in a second one (xquant.sql.batch_run).
"""

from __future__ import annotations

import decimal
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.db import connection
from django.utils.dateparse import parse_datetime

from exchanges.base import BOTH, BUY, LIMIT, ExchangeOrder, Fill, MarketSnapshot, OrderState
from exchanges.errors import OrderNotFoundError, OrderRejectedError
from exchanges.market_data import PriceFeed
from exchanges.models import (
    AMOUNT,
    OPEN_ORDER_STATUSES,
    PaperAccount,
    PaperOrder,
    PaperPosition,
    PaperTrade,
)
from exchanges.paper import accounting as acc
from exchanges.paper.book_watch import WHOLE_ACCOUNT, orders_changed, orders_written
from exchanges.paper.quick_fill import fill_in_one_trip, keep_position
from xquant.sql import (
    BatchTransaction,
    Statement,
    batch_run,
    batch_transaction,
    insert_statement,
    model_columns,
    model_from_row,
    placeholders,
    update_statement,
)

logger = logging.getLogger(__name__)

_ACCOUNT_TABLE = PaperAccount._meta.db_table
_ORDER_TABLE = PaperOrder._meta.db_table
_POSITION_TABLE = PaperPosition._meta.db_table
_TRADE_TABLE = PaperTrade._meta.db_table

# Resting limit orders of one symbol that the book now crosses (uses paper_order_open).
_CROSSED_ORDERS_SQL = f"""
    SELECT id FROM {_ORDER_TABLE}
    WHERE account_name = %s AND symbol = %s AND status IN ('NEW', 'PARTIALLY_FILLED')
      AND order_type = 'LIMIT'
      AND ((side = 'BUY' AND price >= %s) OR (side <> 'BUY' AND price <= %s))
"""  # noqa: S608 - the table name is ours, the values are parameters


_OPEN_ORDERS_SQL = f"""
    SELECT id, client_order_id, status, side, order_type, quantity, filled_quantity, price,
           average_price, position_side, reduce_only, updated_at
      FROM {_ORDER_TABLE}
     WHERE account_name = %s AND symbol = %s AND status IN ('NEW', 'PARTIALLY_FILLED')
     ORDER BY id
"""  # noqa: S608 - the table name is ours, the values are parameters

# The account row with every column in model order, and whether an open order already
# uses a client order id (NULL: asks nothing) - one round trip less per order.
_ACCOUNT_SQL = f"""
    SELECT {", ".join(f"a.{f.column}" for f in PaperAccount._meta.concrete_fields)},
           EXISTS (SELECT 1 FROM {_ORDER_TABLE} o
                    WHERE o.account_name = a.name AND o.client_order_id = %s
                      AND o.status IN ('NEW', 'PARTIALLY_FILLED'))
      FROM {_ACCOUNT_TABLE} a
     WHERE a.name = %s
"""  # noqa: S608 - the table names are ours, the values are parameters

_POSITIONS_SQL = f"""
    SELECT id, symbol, position_side, quantity, entry_price, realized_pnl
      FROM {_POSITION_TABLE}
     WHERE account_name = %s
"""  # noqa: S608 - the table name is ours, the values are parameters

_LOCKED_ORDERS_SQL = f"""
    SELECT {model_columns(PaperOrder)}
      FROM {_ORDER_TABLE}
     WHERE id IN ({{ids}}) AND status IN ('NEW', 'PARTIALLY_FILLED')
     ORDER BY id
"""  # noqa: S608 - the table name is ours, the values are parameters

# A fill's trade copies the filled order's row (written just before in the same batch):
# price, quantity and time are the order's average price, filled quantity and update
# time. `{order}` picks the order: by id, or for an order inserted in the same batch
# the newest with its client id (the account lock keeps anyone else from adding one).
_TRADE_INSERT_SQL = f"""
    INSERT INTO {_TRADE_TABLE} (account_name, order_id, symbol, side, position_side, price,
                                quantity, fee, realized_pnl, is_maker, executed_at)
    SELECT account_name, id, symbol, side, position_side, average_price, filled_quantity,
           %s, %s, %s, updated_at
      FROM {_ORDER_TABLE}
     WHERE {{order}}
     RETURNING id, order_id
"""  # noqa: S608 - the table names are ours, the values are parameters
_ORDER_BY_ID = "id = %s"

_TRADES_SQL = f"""
    SELECT t.id, t.order_id, o.client_order_id, t.side, t.position_side, t.price, t.quantity,
           t.fee, t.realized_pnl, t.is_maker, t.executed_at
      FROM {_TRADE_TABLE} t JOIN {_ORDER_TABLE} o ON o.id = t.order_id
     WHERE t.account_name = %s AND t.symbol = %s"""  # noqa: S608 - the table names are ours
_EXECUTED_AT = PaperTrade._meta.get_field("executed_at")
_ORDER_JUST_INSERTED = f"""
    id = (SELECT MAX(id) FROM {_ORDER_TABLE} WHERE account_name = %s AND client_order_id = %s)
"""  # noqa: S608 - the table name is ours, the values are parameters

# Orders whose fills this process wrote and saw committed; bounded, oldest out first.
_FILLS_REMEMBERED = 512

_AMOUNT_PLACES = Decimal(1).scaleb(-AMOUNT["decimal_places"])
_AMOUNT_CONTEXT = decimal.Context(prec=AMOUNT["max_digits"])
_FROM_SQLITE_FLOAT = decimal.Context(prec=15).create_decimal_from_float


def _amount(value) -> Decimal | None:
    """A paper amount column read by plain SQL, exactly as the ORM reads it: PostgreSQL
    answers with the Decimal; SQLite with a float (or an int), rounded the way Django's
    SQLite backend does, so margin checks agree with ORM reads to the last digit."""
    if value is None or isinstance(value, Decimal):
        return value
    return _FROM_SQLITE_FLOAT(value).quantize(_AMOUNT_PLACES, context=_AMOUNT_CONTEXT)


def _aware(value) -> datetime:
    if isinstance(value, str):
        value = parse_datetime(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def crosses(order: PaperOrder | ExchangeOrder, bid: Decimal, ask: Decimal) -> bool:
    """Whether the book crosses a resting limit order: it fills, as maker."""
    if order.order_type != LIMIT:
        return False
    return order.price >= ask if order.side == BUY else order.price <= bid


def _for_update() -> str:
    # SQLite has no row locks: its IMMEDIATE transactions already take turns.
    return " FOR UPDATE" if connection.features.has_select_for_update else ""


@dataclass(slots=True)
class PositionRow:
    """A position as read under the account lock: what margin and fills need, without
    the cost of a model instance per position."""

    symbol: str
    position_side: str
    quantity: Decimal = acc.ZERO
    entry_price: Decimal = acc.ZERO
    realized_pnl: Decimal = acc.ZERO
    #: None until a fill first writes the position.
    id: int | None = None


Positions = dict[tuple[str, str], PositionRow]


class PaperLedger:
    def __init__(
        self,
        *,
        account_name: str,
        feed: PriceFeed,
        clock: Callable[[], datetime],
        starting_balance: Decimal,
        maker_fee: Decimal,
        taker_fee: Decimal,
    ):
        self.account_name = account_name
        self.feed = feed
        self.clock = clock
        self.starting_balance = starting_balance
        self.maker_fee = maker_fee
        self.taker_fee = taker_fee
        # exchange order id -> its fills, for orders filled completely by this ledger:
        # such an order's trades never change and no more can come.
        self._fills_of_filled: dict[str, list[Fill]] = {}
        #: Writes begun through this ledger (orders, fills, cancels, settings), so a read
        #: kept for a moment can tell whether this process changed the book since.
        self.writes = 0

    def account(self) -> PaperAccount:
        account = PaperAccount.objects.filter(name=self.account_name).first()
        return account or self.create_account(self.clock())

    def create_account(self, now: datetime) -> PaperAccount:
        batch_run([self._new_account_statement(now)])
        return PaperAccount.objects.get(name=self.account_name)

    def _new_account_statement(self, now: datetime) -> Statement:
        """The account with its starting balance, unless it exists (no error when another
        process created it a moment ago)."""
        account = PaperAccount(
            name=self.account_name,
            wallet_balance=self.starting_balance,
            created_at=now,
            updated_at=now,
        )
        return insert_statement(account, returning=(), ignore_conflicts=True)

    def lock_account(
        self, now: datetime, client_order_id: str | None = None, *, symbol: str = WHOLE_ACCOUNT
    ) -> PaperAccount:
        """The account row, locked until the transaction ends: one writer at a time.

        With a client order id, `client_id_in_use` says whether an open order already
        has it (asked in the same query: one round trip less per order). `symbol`: whose
        orders the write may change (see book_watch)."""
        account, _ = self.lock_account_with(now, [], client_order_id=client_order_id, symbol=symbol)
        return account

    def lock_account_with(
        self,
        now: datetime,
        statements: list[Statement],
        *,
        client_order_id: str | None = None,
        tx: BatchTransaction | None = None,
        symbol: str = WHOLE_ACCOUNT,
    ) -> tuple[PaperAccount, list]:
        """`lock_account`, and the rows of more statements read in the same round trip
        (under the lock: on PostgreSQL they run after it in the batch), in `tx` if given
        (else in the caller's atomic block)."""
        run = tx.run if tx is not None else batch_run
        self.writes += 1  # every write to the paper state takes this lock first
        lock = (_ACCOUNT_SQL + _for_update(), [client_order_id, self.account_name])
        # Every write says whose orders it may change (book_watch), in its transaction.
        notify = orders_changed(self.account_name, symbol)
        results = run([lock, *statements, *notify])
        if not results[0].rows:
            results = run([self._new_account_statement(now), lock, *statements, *notify])[1:]
        [row] = results[0].rows
        read = results[1 : 1 + len(statements)]
        return _account_from_row(row), [result.rows for result in read]

    def positions_statement(self) -> Statement:
        return _POSITIONS_SQL, [self.account_name]

    def positions(self) -> Positions:
        [result] = batch_run([self.positions_statement()])
        return positions_from_rows(result.rows)

    @staticmethod
    def position_for(positions: Positions, symbol: str, position_side: str) -> PositionRow:
        position = positions.get((symbol, position_side))
        if position is None:
            # Unsaved until a fill touches it.
            position = positions[(symbol, position_side)] = PositionRow(symbol, position_side)
        return position

    @staticmethod
    def symbol_setting(account: PaperAccount, symbol: str) -> tuple[int, bool]:
        config = account.symbol_settings.get(symbol, {})
        return int(config.get("leverage", acc.DEFAULT_LEVERAGE)), bool(
            config.get("isolated", False)
        )

    def mark(self, symbol: str) -> Decimal:
        return self.feed.mid_price(symbol, self.clock())

    def unrealized(self, position: PositionRow) -> Decimal:
        if position.quantity == 0:
            return acc.ZERO
        return acc.unrealized_pnl(
            position.quantity, position.entry_price, self.mark(position.symbol)
        )

    def available(self, account: PaperAccount, positions: Positions) -> Decimal:
        """Wallet plus cross unrealised PnL, less the initial margin of positions and
        open orders (Binance availableBalance, without liquidation)."""
        available = account.wallet_balance - account.order_margin
        for position in positions.values():
            if position.quantity == 0:
                continue
            leverage, isolated = self.symbol_setting(account, position.symbol)
            available -= acc.initial_margin(position.quantity, position.entry_price, leverage)
            if not isolated:
                available += self.unrealized(position)
        return available

    def fill(
        self,
        account: PaperAccount,
        position: PositionRow,
        order: PaperOrder,
        price: Decimal,
        *,
        is_maker: bool,
        now: datetime,
    ) -> PaperTrade:
        """Fill the whole order at `price`, in memory: the order, the position and the
        account's wallet and margin change; the trade comes back unsaved. `fill_writes`
        and `account_write` say how to store them."""
        quantity = order.quantity
        change = acc.position_apply(
            quantity=position.quantity,
            entry_price=position.entry_price,
            side=order.side,
            fill_quantity=quantity,
            price=price,
        )
        fee = acc.q8(price * quantity * (self.maker_fee if is_maker else self.taker_fee))
        account.order_margin = max(acc.ZERO, account.order_margin - order.reserved_margin)
        account.wallet_balance += change.realized_pnl - fee
        order.status, order.filled_quantity, order.average_price = (
            OrderState.FILLED,
            quantity,
            price,
        )
        order.reserved_margin, order.updated_at = acc.ZERO, now
        position.quantity, position.entry_price = change.quantity, change.entry_price
        position.realized_pnl += change.realized_pnl
        return PaperTrade(
            account_id=self.account_name,
            order_id=order.pk,
            symbol=order.symbol,
            side=order.side,
            position_side=order.position_side,
            price=price,
            quantity=quantity,
            fee=fee,
            realized_pnl=change.realized_pnl,
            is_maker=is_maker,
            executed_at=now,
        )

    def fill_writes(self, order: PaperOrder, trade: PaperTrade) -> list[Statement]:
        """The filled order (inserted if new, else updated) and its trade, which returns
        its id. The position is written apart: several fills may move one position."""
        trade_values = [trade.fee, trade.realized_pnl, trade.is_maker]
        if order.pk is None:
            # An order that fills on arrival is inserted already filled.
            order_write = insert_statement(order, returning=())
            pick, pick_params = _ORDER_JUST_INSERTED, [self.account_name, order.client_order_id]
        else:
            order_write = update_statement(
                order,
                ["status", "filled_quantity", "average_price", "reserved_margin", "updated_at"],
            )
            pick, pick_params = _ORDER_BY_ID, [order.pk]
        trade_write = (_TRADE_INSERT_SQL.format(order=pick), [*trade_values, *pick_params])
        return [order_write, trade_write]

    @staticmethod
    def may_fill(position: PositionRow, order: PaperOrder | ExchangeOrder) -> bool:
        """Whether a resting order may fill against the position: Binance expires a
        reduce-only order whose position has gone instead."""
        try:
            acc.check_reduction(
                position=position.quantity,
                side=order.side,
                quantity=order.quantity,
                position_side=order.position_side,
                reduce_only=order.reduce_only,
            )
        except OrderRejectedError:
            return False
        return True

    def position_write(
        self, position: PositionRow, now: datetime, *, if_as: PositionRow | None = None
    ) -> Statement:
        """Insert or update the position; with `if_as`, update it only if the row still
        holds those numbers (for xquant.sql.expecting_one_row)."""
        row = PaperPosition(
            id=position.id,
            account_id=self.account_name,
            symbol=position.symbol,
            position_side=position.position_side,
            quantity=position.quantity,
            entry_price=position.entry_price,
            realized_pnl=position.realized_pnl,
            updated_at=now,
        )
        if position.id is None:
            return insert_statement(row, returning=())
        fields = ["quantity", "entry_price", "realized_pnl", "updated_at"]
        if if_as is None:
            return update_statement(row, fields)
        return update_statement(
            row,
            fields,
            where="account_name = %s AND symbol = %s AND position_side = %s "
            "AND quantity = %s AND entry_price = %s AND realized_pnl = %s",
            params=[
                self.account_name,
                if_as.symbol,
                if_as.position_side,
                if_as.quantity,
                if_as.entry_price,
                if_as.realized_pnl,
            ],
        )

    @staticmethod
    def account_write(account: PaperAccount) -> Statement:
        """The account's wallet and margin after fills and orders (and its update time)."""
        return update_statement(account, ["wallet_balance", "order_margin", "updated_at"])

    def remember_fills(self, order: PaperOrder, trade: PaperTrade, tx: BatchTransaction) -> None:
        """Keep the fill of an order just filled completely, once the transaction that
        wrote it commits (a rolled back fill never happened)."""
        fill = _fill_from_trade(trade, order.client_order_id)

        def remember() -> None:
            remembered = self._fills_of_filled
            while len(remembered) >= _FILLS_REMEMBERED:
                remembered.pop(next(iter(remembered), None), None)
            remembered[fill.exchange_order_id] = [fill]

        tx.on_commit(remember)

    def fills_of_filled(self, exchange_order_id: str) -> list[Fill] | None:
        """The fills of an order this ledger filled completely, or None if it did not
        (or has forgotten): then only the database knows."""
        return self._fills_of_filled.get(exchange_order_id)

    def match_resting(
        self,
        symbol: str,
        snapshot: MarketSnapshot | None = None,
        candidates: list[PaperOrder] | None = None,
    ) -> bool:
        """Fill the resting limit orders the book now crosses; True if any filled."""
        book = snapshot or self.feed.snapshot(symbol, self.clock())
        if candidates is not None:
            ids = [o.id for o in candidates if crosses(o, book.bid, book.ask)]
        else:
            # Every tick of every symbol runs this: plain SQL, which costs a third of what
            # building the same query through the ORM does.
            [crossed] = batch_run([self.crossed_statement(symbol, book.bid, book.ask)])
            ids = [pk for (pk,) in crossed.rows]
        if not ids:
            return False
        self.fill_resting(ids, book)
        return True

    def crossed_statement(self, symbol: str, bid: Decimal, ask: Decimal) -> Statement:
        """The ids of the symbol's resting limit orders that this book crosses."""
        return _CROSSED_ORDERS_SQL, [self.account_name, symbol, ask, bid]

    def trades_statement(
        self, symbol: str, *, since: datetime | None, order_id: int | None
    ) -> Statement:
        """The symbol's trades, oldest first, as rows `fills_from_rows` reads."""
        sql, params = _TRADES_SQL, [self.account_name, symbol]
        if since is not None:
            sql += " AND t.executed_at >= %s"
            params.append(_EXECUTED_AT.get_db_prep_value(since, connection))
        if order_id is not None:
            sql += " AND t.order_id = %s"
            params.append(order_id)
        return sql + " ORDER BY t.executed_at, t.id", params

    def fill_resting(
        self, order_ids: list[int], book: MarketSnapshot, as_kept: list[ExchangeOrder] = ()
    ) -> None:
        """Fill the resting orders (or expire those that may only reduce a position that
        has gone). One crossed order as this connection kept it (`as_kept`, from its
        book watch) usually goes in one round trip (quick_fill); otherwise, under the
        account lock."""
        if len(order_ids) == 1 and len(as_kept) == 1 and fill_in_one_trip(self, as_kept[0], book):
            return
        now = self.clock()
        ids_sql = placeholders(order_ids)
        # Re-read under the lock: another process may have filled or cancelled them.
        orders_read = (_LOCKED_ORDERS_SQL.format(ids=ids_sql) + _for_update(), order_ids)
        with batch_transaction() as tx:
            account, (position_rows, order_rows) = self.lock_account_with(
                now, [self.positions_statement(), orders_read], tx=tx, symbol=book.symbol
            )
            positions = positions_from_rows(position_rows)
            writes: list[Statement] = []
            filled: list[tuple[PaperOrder, PaperTrade, int]] = []
            moved: dict[tuple[str, str], PositionRow] = {}
            for order in (model_from_row(PaperOrder, row) for row in order_rows):
                position = self.position_for(positions, order.symbol, order.position_side)
                if not self.may_fill(position, order):
                    account.order_margin = max(
                        acc.ZERO, account.order_margin - order.reserved_margin
                    )
                    order.status, order.reserved_margin, order.updated_at = "EXPIRED", 0, now
                    writes.append(
                        update_statement(order, ["status", "reserved_margin", "updated_at"])
                    )
                    continue
                trade = self.fill(account, position, order, order.price, is_maker=True, now=now)
                writes += self.fill_writes(order, trade)
                filled.append((order, trade, len(writes) - 1))
                moved[(position.symbol, position.position_side)] = position
                logger.info(
                    "paper: resting %s filled at %s (book %s/%s)",
                    order,
                    order.price,
                    book.bid,
                    book.ask,
                )
            writes += [self.position_write(position, now) for position in moved.values()]
            account.updated_at = now
            writes.append(self.account_write(account))
            results = tx.run(writes, commit=True)
            for order, trade, at in filled:
                [(trade.id, _)] = results[at].rows
                self.remember_fills(order, trade, tx)
            # Each was filled or expired here, or had left the book before.
            gone = {str(pk) for pk in order_ids}
            tx.on_commit(lambda: orders_written(self.account_name, book.symbol, removed=gone))
            for position in positions.values():
                if position.symbol == book.symbol:
                    tx.on_commit(functools.partial(keep_position, self.account_name, position))

    def match_all(self) -> None:
        """Match every symbol that has resting orders (before account-wide reads)."""
        by_symbol: dict[str, list[PaperOrder]] = {}
        for order in PaperOrder.objects.filter(
            account_id=self.account_name, status__in=OPEN_ORDER_STATUSES, order_type=LIMIT
        ).only("id", "symbol", "side", "price", "order_type"):
            by_symbol.setdefault(order.symbol, []).append(order)
        for symbol in sorted(by_symbol):
            self.match_resting(symbol, candidates=by_symbol[symbol])

    def latest_order(self, symbol: str, client_order_id: str) -> PaperOrder:
        # Binance resolves a reused client id to its most recent order.
        order = (
            PaperOrder.objects.filter(
                account_id=self.account_name, symbol=symbol, client_order_id=client_order_id
            )
            .order_by("-id")
            .first()
        )
        if order is None:
            raise OrderNotFoundError(
                f"paper exchange has no {symbol} order with client id {client_order_id}",
                exchange_code="-2013",
            )
        return order

    def order_by_id(self, symbol: str, exchange_order_id: str) -> PaperOrder:
        order = (
            PaperOrder.objects.filter(
                account_id=self.account_name, symbol=symbol, pk=exchange_order_id
            ).first()
            if exchange_order_id.isdigit()
            else None
        )
        if order is None:
            raise OrderNotFoundError(
                f"paper exchange has no {symbol} order with id {exchange_order_id}",
                exchange_code="-2013",
            )
        return order

    def open_orders(self, symbol: str) -> list[ExchangeOrder]:
        """The symbol's open orders, read in plain SQL: every tick of a symbol with
        working orders asks for them."""
        with connection.cursor() as cursor:
            cursor.execute(_OPEN_ORDERS_SQL, [self.account_name, symbol])
            rows = cursor.fetchall()
        return [
            ExchangeOrder(
                symbol=symbol,
                client_order_id=client_order_id,
                exchange_order_id=str(pk),
                status=OrderState(status),
                side=side,
                order_type=order_type,
                quantity=_amount(quantity),
                filled_quantity=_amount(filled),
                price=_amount(price),
                average_price=_amount(average),
                position_side=position_side or BOTH,
                reduce_only=bool(reduce_only),
                updated_at=_aware(updated_at),
            )
            for (
                pk,
                client_order_id,
                status,
                side,
                order_type,
                quantity,
                filled,
                price,
                average,
                position_side,
                reduce_only,
                updated_at,
            ) in rows
        ]

    @staticmethod
    def to_exchange_order(order: PaperOrder) -> ExchangeOrder:
        return ExchangeOrder(
            symbol=order.symbol,
            client_order_id=order.client_order_id,
            exchange_order_id=str(order.pk),
            status=OrderState(order.status),
            side=order.side,
            order_type=order.order_type,
            quantity=order.quantity,
            filled_quantity=order.filled_quantity,
            price=order.price,
            average_price=order.average_price,
            position_side=order.position_side or BOTH,
            reduce_only=order.reduce_only,
            updated_at=order.updated_at,
        )


def _account_from_row(row: tuple) -> PaperAccount:
    *columns, in_use = row
    account = model_from_row(PaperAccount, columns)
    account.client_id_in_use = bool(in_use)
    return account


def positions_from_rows(rows: list[tuple]) -> Positions:
    positions = {}
    for pk, symbol, position_side, quantity, entry_price, realized_pnl in rows:
        positions[(symbol, position_side)] = PositionRow(
            symbol,
            position_side,
            _amount(quantity),
            _amount(entry_price),
            _amount(realized_pnl),
            pk,
        )
    return positions


def fills_from_rows(symbol: str, rows: list[tuple]) -> list[Fill]:
    return [
        Fill(
            symbol=symbol,
            trade_id=str(pk),
            exchange_order_id=str(order_id),
            side=side,
            price=_amount(price),
            quantity=_amount(quantity),
            fee=_amount(fee),
            fee_asset="USDT",
            executed_at=_aware(executed_at),
            position_side=position_side,
            is_maker=bool(is_maker),
            realized_pnl=_amount(realized_pnl),
            client_order_id=client_order_id,
        )
        for (
            pk,
            order_id,
            client_order_id,
            side,
            position_side,
            price,
            quantity,
            fee,
            realized_pnl,
            is_maker,
            executed_at,
        ) in rows
    ]


def _fill_from_trade(trade: PaperTrade, client_order_id: str) -> Fill:
    """The Fill a database read of this trade gives (amounts with the column's places)."""
    return Fill(
        symbol=trade.symbol,
        trade_id=str(trade.id),
        exchange_order_id=str(trade.order_id),
        side=trade.side,
        price=_column_amount(trade.price),
        quantity=_column_amount(trade.quantity),
        fee=_column_amount(trade.fee),
        fee_asset="USDT",
        executed_at=trade.executed_at,
        position_side=trade.position_side,
        is_maker=trade.is_maker,
        realized_pnl=_column_amount(trade.realized_pnl),
        client_order_id=client_order_id,
    )


def _column_amount(value: Decimal) -> Decimal:
    return value.quantize(_AMOUNT_PLACES, context=_AMOUNT_CONTEXT)
