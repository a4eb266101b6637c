"""The dry-run exchange: accepts every order the symbol filters allow, logs each call
with its parameters, and changes nothing anywhere: no database, no network, no memory
of past calls.

Market data comes from the offline feed (settings.PAPER_FEED). An accepted order comes
back NEW and unfilled, and since nothing is kept, looking it up later finds nothing.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
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
    OrderState,
    SettingChange,
    SymbolRules,
)
from exchanges.errors import OrderNotFoundError
from exchanges.market_data import PriceFeed, feed_create
from exchanges.symbols import offline_symbols

logger = logging.getLogger(__name__)


class DryRunExchange(Exchange):
    name = "dry-run"

    def __init__(
        self,
        *,
        feed: PriceFeed | None = None,
        clock: Callable[[], datetime] | None = None,
        balance: Decimal | str | None = None,
        symbols: list[str] | None = None,
    ):
        self.feed = feed or feed_create(kind=settings.PAPER_FEED, seed=settings.PAPER_SEED)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.balance = Decimal(settings.PAPER_STARTING_BALANCE if balance is None else balance)
        specs = offline_symbols(settings.TRADING_SYMBOLS if symbols is None else symbols)
        self._rules = {symbol: spec.rules for symbol, spec in specs.items()}
        # Exchange ids only need to be unique within this process's log.
        self._ids = itertools.count(1)

    @staticmethod
    def _log(call: str, **params: object) -> None:
        shown = " ".join(f"{key}={value}" for key, value in params.items())
        logger.info("dry-run %s %s", call, shown)

    def load_markets(self, *, reload: bool = False) -> dict[str, SymbolRules]:
        return self._rules

    def market_snapshot(self, symbol: str) -> MarketSnapshot:
        self.symbol_rules(symbol)
        return self.feed.snapshot(symbol, self.clock())

    def fetch_ohlcv(
        self, symbol: str, timeframe: str, *, since: datetime | None = None, limit: int = 500
    ) -> list[Candle]:
        self.symbol_rules(symbol)
        return self.feed.candles(symbol, timeframe, now=self.clock(), since=since, limit=limit)

    def create_order(self, request: OrderRequest) -> ExchangeOrder:
        self._log(
            "create_order",
            symbol=request.symbol,
            side=request.side,
            type=request.order_type,
            quantity=request.quantity,
            price=request.price,
            position_side=request.position_side,
            reduce_only=request.reduce_only,
            time_in_force=request.time_in_force,
            client_order_id=request.client_order_id,
        )
        rules = self.symbol_rules(request.symbol)
        normalized = rules.normalize(
            request, reference_price=self.market_snapshot(request.symbol).mid
        )
        return ExchangeOrder(
            symbol=normalized.symbol,
            client_order_id=normalized.client_order_id,
            exchange_order_id=f"dry-run-{next(self._ids)}",
            status=OrderState.NEW,
            side=normalized.side,
            order_type=normalized.order_type,
            quantity=normalized.quantity,
            filled_quantity=Decimal("0"),
            price=normalized.price,
            position_side=normalized.position_side,
            reduce_only=normalized.reduce_only,
            updated_at=self.clock(),
        )

    def cancel_order(self, symbol: str, client_order_id: str) -> ExchangeOrder:
        self._log("cancel_order", symbol=symbol, client_order_id=client_order_id)
        raise self._not_found(symbol, client_order_id)

    def fetch_order(self, symbol: str, client_order_id: str) -> ExchangeOrder:
        self._log("fetch_order", symbol=symbol, client_order_id=client_order_id)
        raise self._not_found(symbol, client_order_id)

    def fetch_order_by_exchange_id(self, symbol: str, exchange_order_id: str) -> ExchangeOrder:
        self._log("fetch_order_by_exchange_id", symbol=symbol, exchange_order_id=exchange_order_id)
        raise OrderNotFoundError(
            f"dry-run keeps no orders: {symbol} order {exchange_order_id} was never placed anywhere"
        )

    @staticmethod
    def _not_found(symbol: str, client_order_id: str) -> OrderNotFoundError:
        return OrderNotFoundError(
            f"dry-run keeps no orders: {symbol} {client_order_id} was never placed anywhere"
        )

    def fetch_open_orders(self, symbol: str) -> list[ExchangeOrder]:
        self._log("fetch_open_orders", symbol=symbol)
        return []

    def fetch_fills(
        self,
        symbol: str,
        *,
        since: datetime | None = None,
        exchange_order_id: str | None = None,
    ) -> list[Fill]:
        self._log("fetch_fills", symbol=symbol, since=since, exchange_order_id=exchange_order_id)
        return []

    def fetch_balance(self) -> list[Balance]:
        self._log("fetch_balance")
        return [Balance(asset="USDT", total=self.balance, available=self.balance)]

    def fetch_positions(self, symbols: list[str] | None = None) -> list[ExchangePosition]:
        self._log("fetch_positions", symbols=symbols)
        return []

    def set_leverage(self, symbol: str, leverage: int) -> SettingChange:
        self._log("set_leverage", symbol=symbol, leverage=leverage)
        return SettingChange("leverage", str(leverage), changed=False, detail={"dry_run": True})

    def set_margin_mode(self, symbol: str, *, isolated: bool) -> SettingChange:
        self._log("set_margin_mode", symbol=symbol, isolated=isolated)
        value = "isolated" if isolated else "cross"
        return SettingChange("margin_mode", value, changed=False, detail={"dry_run": True})

    def set_position_mode(self, *, hedge: bool) -> SettingChange:
        self._log("set_position_mode", hedge=hedge)
        value = "hedge" if hedge else "one-way"
        return SettingChange("position_mode", value, changed=False, detail={"dry_run": True})

    def sync_time(self) -> int:
        self._log("sync_time")
        return 0
