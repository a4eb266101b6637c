"""The paper exchange: Binance-like futures trading against an offline price feed, with
its whole state in the database (exchanges.models) so every process shares it.

Prices come from the feed at the injected clock's time. Market orders and marketable
limit orders fill at once at the top of book (buy at the ask, sell at the bid) as taker;
other limit orders rest and fill at their limit price, as maker, the first time anyone
looks at the symbol (a market snapshot, an order or fill read, a cancel) while the book
crosses them. The whole quantity fills: the simulated book has no depth.

A market snapshot matches the symbol's open orders. On PostgreSQL a connection keeps
them between ticks until a write may have changed them (book_watch: its own writes at
once, other connections' when their notification arrives); elsewhere the open orders
asked right after a snapshot (a trading tick asks for both) are answered from its read,
once and within BOOK_READ_FRESH, unless this instance wrote to the paper state
meanwhile (an order, a fill, a cancel: every write takes the account lock, which the
ledger counts). Like Binance's open-orders endpoint, the answer may be a moment behind
another process's order; a caller that misses an order looks it up by id.

Liquidations and funding payments are not simulated.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from exchanges.base import (
    BUY,
    LIMIT,
    MARKET,
    Balance,
    Candle,
    Exchange,
    ExchangeOrder,
    ExchangePosition,
    Fill,
    MarketSnapshot,
    OrderRequest,
    OrderState,
    SettingChange,
    SymbolRules,
)
from exchanges.errors import InsufficientFundsError, OrderNotFoundError, OrderRejectedError
from exchanges.market_data import PriceFeed, feed_create
from exchanges.models import (
    OPEN_ORDER_STATUSES,
    PaperAccount,
    PaperOrder,
)
from exchanges.paper import accounting as acc
from exchanges.paper.book_watch import book_watch, keep_here, orders_written
from exchanges.paper.ledger import (
    PaperLedger,
    PositionRow,
    crosses,
    fills_from_rows,
    positions_from_rows,
)
from exchanges.paper.quick_fill import keep_position
from exchanges.symbols import offline_symbols
from xquant.sql import BatchTransaction, batch_run, batch_transaction, insert_statement

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


#: How long a market snapshot's read of the open orders may answer fetch_open_orders.
BOOK_READ_FRESH = 0.1


@dataclass(frozen=True)
class _BookRead:
    symbol: str
    at: float  # time.monotonic()
    writes: int  # the ledger's write count then
    orders: list[ExchangeOrder]


class PaperExchange(Exchange):
    name = "paper"

    def __init__(
        self,
        *,
        feed: PriceFeed | None = None,
        clock: Clock | None = None,
        account: str = "default",
        starting_balance: Decimal | str | None = None,
        maker_fee: Decimal | str | None = None,
        taker_fee: Decimal | str | None = None,
        symbols: list[str] | None = None,
    ):
        self.feed = feed or feed_create(kind=settings.PAPER_FEED, seed=settings.PAPER_SEED)
        self.clock = clock or _utc_now
        self.account_name = account
        self.starting_balance = Decimal(
            settings.PAPER_STARTING_BALANCE if starting_balance is None else starting_balance
        )
        self.maker_fee = Decimal(settings.PAPER_MAKER_FEE if maker_fee is None else maker_fee)
        self.taker_fee = Decimal(settings.PAPER_TAKER_FEE if taker_fee is None else taker_fee)
        specs = offline_symbols(settings.TRADING_SYMBOLS if symbols is None else symbols)
        self._rules = {symbol: spec.rules for symbol, spec in specs.items()}
        self.ledger = PaperLedger(
            account_name=account,
            feed=self.feed,
            clock=self.clock,
            starting_balance=self.starting_balance,
            maker_fee=self.maker_fee,
            taker_fee=self.taker_fee,
        )
        self._book_read: _BookRead | None = None

    # --- markets --------------------------------------------------------------------
    def load_markets(self, *, reload: bool = False) -> dict[str, SymbolRules]:
        return self._rules

    def ticking(self) -> None:
        keep_here()

    def market_snapshot(self, symbol: str) -> MarketSnapshot:
        self.symbol_rules(symbol)
        snapshot = self.feed.snapshot(symbol, self.clock())
        orders = self._open_orders_matched(symbol, snapshot.bid, snapshot.ask, snapshot)
        self._book_read = _BookRead(symbol, time.monotonic(), self.ledger.writes, orders)
        return snapshot

    def fetch_ohlcv(
        self, symbol: str, timeframe: str, *, since: datetime | None = None, limit: int = 500
    ) -> list[Candle]:
        self.symbol_rules(symbol)
        return self.feed.candles(symbol, timeframe, now=self.clock(), since=since, limit=limit)

    # --- orders ---------------------------------------------------------------------
    def create_order(self, request: OrderRequest) -> ExchangeOrder:
        rules = self.symbol_rules(request.symbol)
        now = self.clock()
        book = self.feed.snapshot(request.symbol, now)
        request = rules.normalize(request, reference_price=book.mid)
        if request.order_type not in (MARKET, LIMIT):
            raise acc.reject("-1116", f"order type {request.order_type} is not MARKET or LIMIT")
        tif = (request.time_in_force or "GTC") if request.order_type == LIMIT else ""
        if tif not in ("", "GTC", "IOC", "FOK", "GTX"):
            raise acc.reject("-1115", f"time in force {tif} is not GTC, IOC, FOK or GTX")
        buy = request.side == BUY
        if request.order_type == MARKET:
            crosses, fill_price = True, (book.ask if buy else book.bid)
        else:
            crosses = request.price >= book.ask if buy else request.price <= book.bid
            fill_price = (book.ask if buy else book.bid) if crosses else request.price
            if crosses and tif == "GTX":
                raise acc.reject("-5022", "post-only order would immediately match and take")

        with batch_transaction() as tx:
            # One round trip reads all the checks need, one writes the outcome.
            account, [position_rows] = self.ledger.lock_account_with(
                now,
                [self.ledger.positions_statement()],
                client_order_id=request.client_order_id,
                tx=tx,
                symbol=request.symbol,
            )
            if account.client_id_in_use:
                raise acc.reject(
                    "-4116",
                    f"client order id {request.client_order_id} is already used by an open order",
                )
            positions = positions_from_rows(position_rows)
            acc.check_position_side(
                hedge_mode=account.hedge_mode,
                position_side=request.position_side,
                reduce_only=request.reduce_only,
            )
            position = self.ledger.position_for(positions, request.symbol, request.position_side)
            acc.check_reduction(
                position=position.quantity,
                side=request.side,
                quantity=request.quantity,
                position_side=request.position_side,
                reduce_only=request.reduce_only,
            )
            leverage, _ = self.ledger.symbol_setting(account, request.symbol)
            opening = acc.opening_quantity(position.quantity, request.side, request.quantity)
            margin = acc.initial_margin(opening, fill_price, leverage)
            fee = acc.q8(fill_price * request.quantity * self.taker_fee) if crosses else acc.ZERO
            available = self.ledger.available(account, positions)
            if margin + fee > available:
                raise InsufficientFundsError(
                    f"paper exchange rejected the order: margin {margin} plus fee {fee} is more "
                    f"than the available balance {available} {account.asset}",
                    exchange_code="-2019",
                )
            status = OrderState.NEW
            if not crosses and tif in ("IOC", "FOK"):
                status = OrderState.EXPIRED
            order = PaperOrder(
                account_id=self.account_name,
                symbol=request.symbol,
                client_order_id=request.client_order_id,
                side=request.side,
                order_type=request.order_type,
                position_side=request.position_side,
                reduce_only=request.reduce_only,
                time_in_force=tif,
                quantity=request.quantity,
                price=request.price,
                status=status,
                reserved_margin=margin if not crosses and status.is_open else acc.ZERO,
                created_at=now,
                updated_at=now,
            )
            self._place(tx, account, order, position, fill_price if crosses else None, now)
            tx.on_commit(lambda: keep_position(self.account_name, position))
        return self.ledger.to_exchange_order(order)

    def _place(
        self,
        tx: BatchTransaction,
        account: PaperAccount,
        order: PaperOrder,
        position: PositionRow,
        fill_price: Decimal | None,
        now: datetime,
    ) -> None:
        """Write a new order: filled at `fill_price` with its trade and position, or
        resting (or expired) with its margin reserved. All in one round trip, which
        commits."""
        if fill_price is None:
            account.order_margin += order.reserved_margin
            account.updated_at = now
            results = tx.run(
                [insert_statement(order, returning=("id",)), self.ledger.account_write(account)],
                commit=True,
            )
            [(order.pk,)] = results[0].rows
            resting = (
                [self.ledger.to_exchange_order(order)]
                if order.status in OPEN_ORDER_STATUSES
                else []
            )
            tx.on_commit(lambda: orders_written(self.account_name, order.symbol, added=resting))
            return
        trade = self.ledger.fill(account, position, order, fill_price, is_maker=False, now=now)
        account.updated_at = now
        results = tx.run(
            [
                *self.ledger.fill_writes(order, trade),
                self.ledger.position_write(position, now),
                self.ledger.account_write(account),
            ],
            commit=True,
        )
        # The trade's insert returns the new order's id with its own.
        [(trade.id, trade.order_id)] = results[1].rows
        order.pk = trade.order_id
        self.ledger.remember_fills(order, trade, tx)
        tx.on_commit(lambda: orders_written(self.account_name, order.symbol))

    def cancel_order(self, symbol: str, client_order_id: str) -> ExchangeOrder:
        self.market_snapshot(symbol)  # a crossed order fills before it can be cancelled
        now = self.clock()
        with transaction.atomic():
            account = self.ledger.lock_account(now, symbol=symbol)
            order = (
                PaperOrder.objects.select_for_update()
                .filter(
                    account_id=self.account_name,
                    symbol=symbol,
                    client_order_id=client_order_id,
                    status__in=OPEN_ORDER_STATUSES,
                )
                .first()
            )
            if order is None:
                raise OrderNotFoundError(
                    f"paper exchange has no open {symbol} order {client_order_id} to cancel",
                    exchange_code="-2011",
                )
            account.order_margin = max(acc.ZERO, account.order_margin - order.reserved_margin)
            account.updated_at = now
            account.save(update_fields=["order_margin", "updated_at"])
            order.status, order.reserved_margin, order.updated_at = OrderState.CANCELED, 0, now
            order.save(update_fields=["status", "reserved_margin", "updated_at"])
            removed = {str(order.pk)}
            transaction.on_commit(
                lambda: orders_written(self.account_name, symbol, removed=removed)
            )
        return self.ledger.to_exchange_order(order)

    def fetch_order(self, symbol: str, client_order_id: str) -> ExchangeOrder:
        order = self.ledger.latest_order(symbol, client_order_id)
        if order.status in OPEN_ORDER_STATUSES and self.ledger.match_resting(symbol):
            order = self.ledger.latest_order(symbol, client_order_id)
        return self.ledger.to_exchange_order(order)

    def fetch_order_by_exchange_id(self, symbol: str, exchange_order_id: str) -> ExchangeOrder:
        return self.ledger.to_exchange_order(self.ledger.order_by_id(symbol, exchange_order_id))

    def fetch_open_orders(self, symbol: str) -> list[ExchangeOrder]:
        read, self._book_read = self._book_read, None
        if (
            read is not None
            and read.symbol == symbol
            and read.writes == self.ledger.writes
            and time.monotonic() - read.at < BOOK_READ_FRESH
        ):
            return list(read.orders)
        bid, ask = self.feed.bid_ask(symbol, self.clock())  # no need for the book's sizes
        return self._open_orders_matched(symbol, bid, ask)

    def _open_orders_matched(
        self, symbol: str, bid: Decimal, ask: Decimal, book: MarketSnapshot | None = None
    ) -> list[ExchangeOrder]:
        """The symbol's open orders, once those the book (`bid`/`ask`) crosses filled."""
        orders = self._open_orders(symbol)
        as_kept = [o for o in orders if crosses(o, bid, ask)]
        if not as_kept:
            return orders
        crossed = [int(o.exchange_order_id) for o in as_kept]
        book = book or self.feed.snapshot(symbol, self.clock())
        self.ledger.fill_resting(crossed, book, as_kept=as_kept)
        # Filled (or expired, or gone meanwhile): none of them is open any more.
        return [o for o in orders if int(o.exchange_order_id) not in crossed]

    def _open_orders(self, symbol: str) -> list[ExchangeOrder]:
        """The symbol's open orders: as kept by this connection's book watch when
        nothing changed them since, else read (and kept)."""
        watch = book_watch()
        kept = watch.get(self.account_name, symbol) if watch is not None else None
        if kept is not None:
            return kept
        orders = self.ledger.open_orders(symbol)
        if watch is not None:
            watch.keep(self.account_name, symbol, orders)
        return orders

    def fetch_fills(
        self,
        symbol: str,
        *,
        since: datetime | None = None,
        exchange_order_id: str | None = None,
    ) -> list[Fill]:
        if exchange_order_id is not None:
            known = self.ledger.fills_of_filled(exchange_order_id)
            if known is not None:
                # Filled completely by this process: its trades are final, no need to ask.
                self.symbol_rules(symbol)
                return [
                    f
                    for f in known
                    if f.symbol == symbol and (since is None or f.executed_at >= since)
                ]
        self.symbol_rules(symbol)
        now = self.clock()
        bid, ask = self.feed.bid_ask(symbol, now)
        trades_read = self.ledger.trades_statement(
            symbol,
            since=since,
            order_id=None if exchange_order_id is None else int(exchange_order_id),
        )
        # Resting orders the book crosses fill before the read (as after market_snapshot);
        # asking for them with the trades saves a round trip when, as usual, there are none.
        crossed, trades = batch_run([self.ledger.crossed_statement(symbol, bid, ask), trades_read])
        if crossed.rows:
            self.ledger.fill_resting(
                [pk for (pk,) in crossed.rows], self.feed.snapshot(symbol, now)
            )
            [trades] = batch_run([trades_read])
        return fills_from_rows(symbol, trades.rows)

    # --- account --------------------------------------------------------------------
    def fetch_balance(self) -> list[Balance]:
        self.ledger.match_all()
        account = self.ledger.account()
        positions = self.ledger.positions()
        used = account.order_margin
        unrealized = acc.ZERO
        for position in positions.values():
            leverage, _ = self.ledger.symbol_setting(account, position.symbol)
            used += acc.initial_margin(position.quantity, position.entry_price, leverage)
            unrealized += self.ledger.unrealized(position)
        return [
            Balance(
                asset=account.asset,
                total=account.wallet_balance + unrealized,
                available=self.ledger.available(account, positions),
                used=used,
                unrealized_pnl=unrealized,
            )
        ]

    def fetch_positions(self, symbols: list[str] | None = None) -> list[ExchangePosition]:
        self.ledger.match_all()
        account = self.ledger.account()
        result = []
        for position in self.ledger.positions().values():
            if position.quantity == 0 or (symbols is not None and position.symbol not in symbols):
                continue
            leverage, isolated = self.ledger.symbol_setting(account, position.symbol)
            result.append(
                ExchangePosition(
                    symbol=position.symbol,
                    position_side=position.position_side,
                    quantity=position.quantity,
                    entry_price=position.entry_price,
                    mark_price=self.ledger.mark(position.symbol),
                    unrealized_pnl=self.ledger.unrealized(position),
                    leverage=leverage,
                    margin_mode="isolated" if isolated else "cross",
                )
            )
        return sorted(result, key=lambda p: (p.symbol, p.position_side))

    def set_leverage(self, symbol: str, leverage: int) -> SettingChange:
        self.symbol_rules(symbol)
        if not 1 <= leverage <= 125:
            raise OrderRejectedError(
                f"leverage {leverage} is not valid; use 1 to 125", exchange_code="-4028"
            )
        return self._change_symbol_setting(symbol, "leverage", leverage)

    def set_margin_mode(self, symbol: str, *, isolated: bool) -> SettingChange:
        self.symbol_rules(symbol)
        return self._change_symbol_setting(symbol, "isolated", isolated)

    def set_position_mode(self, *, hedge: bool) -> SettingChange:
        now = self.clock()
        value = "hedge" if hedge else "one-way"
        with transaction.atomic():
            account = self.ledger.lock_account(now)
            if account.hedge_mode == hedge:
                return SettingChange("position_mode", value, changed=False)
            if any(p.quantity != 0 for p in self.ledger.positions().values()):
                raise acc.reject(
                    "-4068", "the position mode cannot change while positions are open"
                )
            if PaperOrder.objects.filter(
                account_id=self.account_name, status__in=OPEN_ORDER_STATUSES
            ).exists():
                raise acc.reject("-4067", "the position mode cannot change while orders are open")
            account.hedge_mode, account.updated_at = hedge, now
            account.save(update_fields=["hedge_mode", "updated_at"])
        return SettingChange("position_mode", value, changed=True)

    def sync_time(self) -> int:
        return 0  # the paper exchange runs on our own clock

    # --- internals ------------------------------------------------------------------
    def _change_symbol_setting(self, symbol: str, key: str, value: int | bool) -> SettingChange:
        now = self.clock()
        shown = str(value) if key == "leverage" else ("isolated" if value else "cross")
        setting = "leverage" if key == "leverage" else "margin_mode"
        with transaction.atomic():
            account = self.ledger.lock_account(now)
            leverage, isolated = self.ledger.symbol_setting(account, symbol)
            if (leverage if key == "leverage" else isolated) == value:
                return SettingChange(setting, shown, changed=False)
            if key == "isolated":
                if any(
                    p.symbol == symbol and p.quantity != 0 for p in self.ledger.positions().values()
                ):
                    raise acc.reject(
                        "-4048", f"the margin mode of {symbol} cannot change with a position open"
                    )
                if PaperOrder.objects.filter(
                    account_id=self.account_name, symbol=symbol, status__in=OPEN_ORDER_STATUSES
                ).exists():
                    raise acc.reject(
                        "-4047", f"the margin mode of {symbol} cannot change with orders open"
                    )
            config = {"leverage": leverage, "isolated": isolated, key: value}
            account.symbol_settings = {**account.symbol_settings, symbol: config}
            account.updated_at = now
            account.save(update_fields=["symbol_settings", "updated_at"])
        return SettingChange(setting, shown, changed=True)
