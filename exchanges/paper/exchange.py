"""The paper exchange: Binance-like futures trading against an offline price feed, with
its whole state in the database (exchanges.models) so every process shares it.

Prices come from the feed at the injected clock's time. Orders fill as placement.py
says; resting orders fill as matching.py says, the first time anyone looks at their
symbol while the book crosses them. Every write takes the account row's lock first
(account.py), inside `transaction.atomic()`. Like Binance's open-orders endpoint, a
read may be a moment behind another process's order; a caller that misses an order
looks it up by id.

Liquidations and funding payments are not simulated.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from django.conf import settings

from exchanges.base import (
    Balance,
    Candle,
    Exchange,
    ExchangeOrder,
    ExchangePosition,
    Fill,
    MarketSnapshot,
    OrderRequest,
    SettingChange,
    SymbolRules,
)
from exchanges.errors import OrderRejectedError
from exchanges.market_data import PriceFeed, feed_create
from exchanges.models import OPEN_ORDER_STATUSES
from exchanges.paper.account import Clock, Simulation
from exchanges.paper.account_settings import leverage_set, margin_mode_set, position_mode_set
from exchanges.paper.matching import account_match, symbol_match
from exchanges.paper.placement import order_cancel, order_place
from exchanges.paper.queries import (
    balance_get,
    fills_list,
    order_by_id,
    order_latest,
    positions_list,
    to_exchange_order,
)
from exchanges.symbols import offline_symbols


def _utc_now() -> datetime:
    return datetime.now(UTC)


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
        self.sim = Simulation(
            account_name=account,
            feed=self.feed,
            clock=self.clock,
            starting_balance=self.starting_balance,
            maker_fee=self.maker_fee,
            taker_fee=self.taker_fee,
        )

    # --- markets --------------------------------------------------------------------
    def load_markets(self, *, reload: bool = False) -> dict[str, SymbolRules]:
        return self._rules

    def market_snapshot(self, symbol: str) -> MarketSnapshot:
        self.symbol_rules(symbol)
        snapshot = self.feed.snapshot(symbol, self.clock())
        symbol_match(sim=self.sim, book=snapshot)
        return snapshot

    def fetch_ohlcv(
        self, symbol: str, timeframe: str, *, since: datetime | None = None, limit: int = 500
    ) -> list[Candle]:
        self.symbol_rules(symbol)
        return self.feed.candles(symbol, timeframe, now=self.clock(), since=since, limit=limit)

    # --- orders ---------------------------------------------------------------------
    def create_order(self, request: OrderRequest) -> ExchangeOrder:
        rules = self.symbol_rules(request.symbol)
        return to_exchange_order(order_place(sim=self.sim, rules=rules, request=request))

    def cancel_order(self, symbol: str, client_order_id: str) -> ExchangeOrder:
        self.market_snapshot(symbol)  # a crossed order fills before it can be cancelled
        order = order_cancel(sim=self.sim, symbol=symbol, client_order_id=client_order_id)
        return to_exchange_order(order)

    def fetch_order(self, symbol: str, client_order_id: str) -> ExchangeOrder:
        order = order_latest(sim=self.sim, symbol=symbol, client_order_id=client_order_id)
        if order.status in OPEN_ORDER_STATUSES:
            book = self.feed.snapshot(symbol, self.clock())
            if order.pk not in {o.pk for o in symbol_match(sim=self.sim, book=book)}:
                order.refresh_from_db()  # it left the book: filled, expired or cancelled
        return to_exchange_order(order)

    def fetch_order_by_exchange_id(self, symbol: str, exchange_order_id: str) -> ExchangeOrder:
        order = order_by_id(sim=self.sim, symbol=symbol, exchange_order_id=exchange_order_id)
        return to_exchange_order(order)

    def fetch_open_orders(self, symbol: str) -> list[ExchangeOrder]:
        book = self.feed.snapshot(symbol, self.clock())
        return [to_exchange_order(o) for o in symbol_match(sim=self.sim, book=book)]

    def fetch_fills(
        self,
        symbol: str,
        *,
        since: datetime | None = None,
        exchange_order_id: str | None = None,
    ) -> list[Fill]:
        self.market_snapshot(symbol)  # resting orders the book crosses fill before the read
        return fills_list(
            sim=self.sim, symbol=symbol, since=since, exchange_order_id=exchange_order_id
        )

    # --- account --------------------------------------------------------------------
    def fetch_balance(self) -> list[Balance]:
        account_match(sim=self.sim)
        return [balance_get(sim=self.sim)]

    def fetch_positions(self, symbols: list[str] | None = None) -> list[ExchangePosition]:
        account_match(sim=self.sim)
        return positions_list(sim=self.sim, symbols=symbols)

    def set_leverage(self, symbol: str, leverage: int) -> SettingChange:
        self.symbol_rules(symbol)
        if not 1 <= leverage <= 125:
            raise OrderRejectedError(
                f"leverage {leverage} is not valid; use 1 to 125", exchange_code="-4028"
            )
        return leverage_set(sim=self.sim, symbol=symbol, leverage=leverage)

    def set_margin_mode(self, symbol: str, *, isolated: bool) -> SettingChange:
        self.symbol_rules(symbol)
        return margin_mode_set(sim=self.sim, symbol=symbol, isolated=isolated)

    def set_position_mode(self, *, hedge: bool) -> SettingChange:
        return position_mode_set(sim=self.sim, hedge=hedge)

    def sync_time(self) -> int:
        return 0  # the paper exchange runs on our own clock
