"""Binance USD-M futures through ccxt's binanceusdm.

Thread-safe: each thread gets its own ccxt client (ccxt keeps per-request state such as
the last response on the instance), sharing the markets, the clock offset and the
request-weight throttle. ccxt's exceptions never leave this package.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlsplit

import ccxt
from django.conf import settings

from exchanges.base import (
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
    SettingChange,
    SymbolRules,
)
from exchanges.binance import parse
from exchanges.binance.client import PRODUCTION_BASE_URL, FapiClient
from exchanges.binance.throttle import (
    LocalWeightStore,
    RedisWeightStore,
    WeightStore,
    WeightThrottle,
)
from exchanges.binance.translate import translate_error
from exchanges.errors import ExchangeError, OrderRejectedError, TimeDriftError
from exchanges.market_data import timeframe_seconds
from exchanges.market_info import FundingRate, OrderBook, Ticker
from exchanges.metrics import clock_offset

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: A book ticker younger than this values a market order for the local min-notional check.
REFERENCE_PRICE_MAX_AGE_SECONDS = 60.0
#: The clock offset is measured before the first signed request and again this often
#: (host clocks drift, and a restart starts from nothing); a -1021 measures it at once.
CLOCK_RESYNC_SECONDS = 300.0
#: After a failed measurement, the next signed request tries again this much later.
CLOCK_RETRY_SECONDS = 15.0
#: Public endpoints: no timestamp, so no clock needed.
_PUBLIC_OPERATIONS = frozenset(
    {
        "load_markets",
        "market_snapshot",
        "fetch_ohlcv",
        "fetch_ticker",
        "fetch_order_book",
        "fetch_funding_rate",
        "sync_time",
    }
)

_local_stores: dict[str, LocalWeightStore] = {}
_local_stores_lock = threading.Lock()


def weight_store_for(base_url: str, redis_url: str) -> RedisWeightStore | LocalWeightStore:
    """One budget per Binance host: in Redis when configured, else per process."""
    host = urlsplit(base_url).netloc or base_url
    if redis_url:
        import redis

        return RedisWeightStore(redis.Redis.from_url(redis_url), prefix=f"xquant:binance:{host}")
    with _local_stores_lock:
        return _local_stores.setdefault(host, LocalWeightStore())


class BinanceExchange(Exchange):
    name = "binance"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        api_secret: str | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        weight_budget: int | None = None,
        weight_window_seconds: float = 60.0,
        throttle_max_wait_seconds: float = 10.0,
        redis_url: str | None = None,
        weight_store: WeightStore | None = None,
        recv_window_ms: int = 5000,
    ):
        """Every argument left None comes from settings (EXCHANGE_API_KEY, ...). The
        throttle's counters are in Redis (`redis_url`, default settings.REDIS_URL; "" for
        none) or in this process, per Binance host, unless `weight_store` is given."""
        self._api_key = settings.EXCHANGE_API_KEY if api_key is None else api_key
        self._api_secret = settings.EXCHANGE_API_SECRET if api_secret is None else api_secret
        self.base_url = (
            settings.EXCHANGE_BASE_URL if base_url is None else base_url
        ) or PRODUCTION_BASE_URL
        self.timeout = settings.EXCHANGE_TIMEOUT_SECONDS if timeout is None else timeout
        self._recv_window_ms = recv_window_ms
        # Binance refuses a signed request whose timestamp is older than recvWindow when
        # it gets to it, so once that much time (plus a margin for clock error) has
        # passed since a send, "no such order" is final.
        self.request_expiry_seconds = recv_window_ms / 1000 + 1.0
        #: Exchange clock minus ours, in milliseconds (set by sync_time).
        self.time_offset_ms = 0
        #: time.monotonic() when the offset is due to be measured (None: never measured).
        self._clock_due: float | None = None
        self._clock_lock = threading.Lock()
        budget = settings.EXCHANGE_WEIGHT_BUDGET if weight_budget is None else weight_budget
        self.throttle = WeightThrottle(
            store=weight_store
            or weight_store_for(
                self.base_url, settings.REDIS_URL if redis_url is None else redis_url
            ),
            budget=budget,
            window_seconds=weight_window_seconds,
            max_wait_seconds=throttle_max_wait_seconds,
            server_offset_ms=lambda: self.time_offset_ms,
        )
        self._local = threading.local()
        self._markets_lock = threading.Lock()
        self._markets_client: FapiClient | None = None
        self._rules: dict[str, SymbolRules] | None = None
        self._ccxt_symbols: dict[str, str] = {}
        self._last_books: dict[str, tuple[float, MarketSnapshot]] = {}

    def __repr__(self) -> str:  # never show the keys
        return f"<BinanceExchange {self.base_url}>"

    # --- plumbing -------------------------------------------------------------------
    def _client(self) -> FapiClient:
        client = getattr(self._local, "client", None)
        if client is None:
            client = FapiClient(
                api_key=self._api_key,
                api_secret=self._api_secret,
                base_url=self.base_url,
                timeout_ms=int(self.timeout * 1000),
                recv_window_ms=self._recv_window_ms,
                weight_throttle=self.throttle,
            )
            self._local.client = client
        if client.markets is None and self._markets_client is not None:
            client.set_markets_from_exchange(self._markets_client)
        # ccxt signs with milliseconds() - timeDifference.
        client.options["timeDifference"] = -self.time_offset_ms
        return client

    def _call(
        self,
        operation: str,
        call: Callable[[FapiClient], T],
        *,
        mutating: bool = False,
        no_change_codes: frozenset[str] = frozenset(),
    ) -> T:
        if operation in _PUBLIC_OPERATIONS:
            return self._send(operation, call, mutating, no_change_codes)
        self._keep_clock()
        try:
            return self._send(operation, call, mutating, no_change_codes)
        except TimeDriftError:
            # Binance refused the request for its timestamp, so it had no effect: measure
            # the clock and send it once more. An order's submission is the order
            # manager's to repeat (it records every attempt), so it is left to it.
            if operation == "create_order":
                raise
            self._measure_clock()
            return self._send(operation, call, mutating, no_change_codes)

    def _keep_clock(self) -> None:
        due = self._clock_due
        if due is None or time.monotonic() >= due:
            with self._clock_lock:
                due = self._clock_due
                if due is None or time.monotonic() >= due:
                    self._measure_clock()

    def _measure_clock(self) -> None:
        try:
            self.sync_time()
        except ExchangeError as exc:
            logger.warning("could not measure the binance clock offset: %s", exc.message)
            self._clock_due = time.monotonic() + CLOCK_RETRY_SECONDS

    def _send(
        self,
        operation: str,
        call: Callable[[FapiClient], T],
        mutating: bool,
        no_change_codes: frozenset[str],
    ) -> T:
        client = self._client()
        try:
            return call(client)
        except ccxt.BaseError as exc:
            reply = client.last_reply
            if reply is not None and reply.code in no_change_codes:
                raise _NoChange(reply.code, reply.message) from None
            error = translate_error(exc, reply, operation=operation, mutating=mutating)
            logger.info("%s (%s)", error, type(exc).__name__)
            raise error from exc

    def _market_id(self, symbol: str) -> str:
        self.symbol_rules(symbol)
        return self._ccxt_symbols[symbol]

    # --- markets --------------------------------------------------------------------
    def load_markets(self, *, reload: bool = False) -> dict[str, SymbolRules]:
        if self._rules is not None and not reload:
            return self._rules
        with self._markets_lock:
            if self._rules is None or reload:
                client = self._client()
                markets = self._call("load_markets", lambda c: c.load_markets(reload=True))
                perpetuals = [
                    m
                    for m in markets.values()
                    if m.get("linear") and m.get("swap") and m.get("active")
                ]
                self._ccxt_symbols = {m["id"]: m["symbol"] for m in perpetuals}
                self._markets_client = client
                self._rules = {m["id"]: parse.rules_from_market(m["info"]) for m in perpetuals}
        return self._rules

    def market_snapshot(self, symbol: str) -> MarketSnapshot:
        raw = self._call(
            "market_snapshot", lambda c: c.fapiPublicGetTickerBookTicker({"symbol": symbol})
        )
        snapshot = parse.snapshot_from_book_ticker(raw)
        self._last_books[symbol] = (time.monotonic(), snapshot)
        return snapshot

    def fetch_ohlcv(
        self, symbol: str, timeframe: str, *, since: datetime | None = None, limit: int = 500
    ) -> list[Candle]:
        timeframe_seconds(timeframe)  # refuse unknown timeframes before sending
        request: dict[str, Any] = {
            "symbol": symbol,
            "interval": timeframe,
            "limit": min(limit, 1500),
        }
        if since is not None:
            request["startTime"] = int(since.timestamp() * 1000)
        rows = self._call("fetch_ohlcv", lambda c: c.fapiPublicGetKlines(request))
        return [parse.candle_from_kline(row) for row in rows]

    # Research collection (not part of the Exchange interface).
    def fetch_ticker(self, symbol: str) -> Ticker:
        raw = self._call("fetch_ticker", lambda c: c.fapiPublicGetTicker24hr({"symbol": symbol}))
        return parse.ticker_from_raw(raw)

    def fetch_order_book(self, symbol: str, *, limit: int = 20) -> OrderBook:
        allowed = (5, 10, 20, 50, 100, 500, 1000)
        depth = next((n for n in allowed if n >= limit), 1000)
        raw = self._call(
            "fetch_order_book", lambda c: c.fapiPublicGetDepth({"symbol": symbol, "limit": depth})
        )
        return parse.order_book_from_raw(symbol, raw)

    def fetch_funding_rate(self, symbol: str) -> FundingRate:
        raw = self._call(
            "fetch_funding_rate", lambda c: c.fapiPublicGetPremiumIndex({"symbol": symbol})
        )
        return parse.funding_from_raw(raw)

    # --- orders ---------------------------------------------------------------------
    def _reference_price(self, symbol: str) -> Decimal | None:
        seen = self._last_books.get(symbol)
        if seen and time.monotonic() - seen[0] <= REFERENCE_PRICE_MAX_AGE_SECONDS:
            return seen[1].mid
        return None

    def create_order(self, request: OrderRequest) -> ExchangeOrder:
        rules = self.symbol_rules(request.symbol)
        if request.order_type not in (MARKET, LIMIT):
            raise OrderRejectedError(
                f"order type {request.order_type} is not supported; use MARKET or LIMIT",
                code="local.order_type",
            )
        # A market order is valued at the last book ticker seen, if recent; without one
        # the min-notional check is Binance's (-4164).
        request = rules.normalize(request, reference_price=self._reference_price(request.symbol))
        params: dict[str, Any] = {
            "newClientOrderId": request.client_order_id,
            # Explicit, not ccxt's `hedged` flag: that one drops reduceOnly and flips sides.
            "positionSide": request.position_side,
        }
        if request.reduce_only:
            params["reduceOnly"] = True
        price = None
        if request.order_type == LIMIT:
            params["timeInForce"] = request.time_in_force or "GTC"
            price = str(request.price)
        market = self._market_id(request.symbol)
        order = self._call(
            "create_order",
            lambda c: c.create_order(
                market,
                request.order_type.lower(),
                request.side.lower(),
                str(request.quantity),
                price,
                params,
            ),
            mutating=True,
        )
        return parse.order_from_raw(order["info"])

    def cancel_order(self, symbol: str, client_order_id: str) -> ExchangeOrder:
        market = self._market_id(symbol)
        order = self._call(
            "cancel_order",
            lambda c: c.cancel_order(None, market, {"origClientOrderId": client_order_id}),
            mutating=True,
        )
        return parse.order_from_raw(order["info"])

    def fetch_order(self, symbol: str, client_order_id: str) -> ExchangeOrder:
        market = self._market_id(symbol)
        order = self._call(
            "fetch_order",
            lambda c: c.fetch_order(None, market, {"origClientOrderId": client_order_id}),
        )
        return parse.order_from_raw(order["info"])

    def fetch_order_by_exchange_id(self, symbol: str, exchange_order_id: str) -> ExchangeOrder:
        market = self._market_id(symbol)
        order = self._call("fetch_order", lambda c: c.fetch_order(exchange_order_id, market))
        return parse.order_from_raw(order["info"])

    def fetch_open_orders(self, symbol: str) -> list[ExchangeOrder]:
        market = self._market_id(symbol)
        orders = self._call("fetch_open_orders", lambda c: c.fetch_open_orders(market))
        return [parse.order_from_raw(order["info"]) for order in orders]

    def fetch_fills(
        self,
        symbol: str,
        *,
        since: datetime | None = None,
        exchange_order_id: str | None = None,
    ) -> list[Fill]:
        market = self._market_id(symbol)
        since_ms = int(since.timestamp() * 1000) if since is not None else None
        params = {"orderId": exchange_order_id} if exchange_order_id is not None else {}
        trades = self._call(
            "fetch_fills", lambda c: c.fetch_my_trades(market, since_ms, 1000, params)
        )
        return [parse.fill_from_raw(trade["info"]) for trade in trades]

    # --- account --------------------------------------------------------------------
    def fetch_balance(self) -> list[Balance]:
        raw = self._call("fetch_balance", lambda c: c.fapiPrivateV3GetAccount())
        return parse.balances_from_account(raw)

    def fetch_positions(self, symbols: list[str] | None = None) -> list[ExchangePosition]:
        rows = self._call("fetch_positions", lambda c: c.fapiPrivateV3GetPositionRisk())
        return [
            parse.position_from_raw(row)
            for row in rows
            if parse.dec(row.get("positionAmt")) != 0
            and (symbols is None or row["symbol"] in symbols)
        ]

    def set_leverage(self, symbol: str, leverage: int) -> SettingChange:
        if not 1 <= leverage <= 125:
            raise OrderRejectedError(
                f"leverage {leverage} is not valid; use 1 to 125", code="local.leverage"
            )
        market = self._market_id(symbol)
        raw = self._call("set_leverage", lambda c: c.set_leverage(leverage, market))
        return SettingChange("leverage", str(leverage), changed=True, detail=_plain(raw))

    def set_margin_mode(self, symbol: str, *, isolated: bool) -> SettingChange:
        value = "isolated" if isolated else "cross"
        market = self._market_id(symbol)
        return self._setting(
            "margin_mode", value, lambda c: c.set_margin_mode(value, market), "-4046"
        )

    def set_position_mode(self, *, hedge: bool) -> SettingChange:
        value = "hedge" if hedge else "one-way"
        return self._setting("position_mode", value, lambda c: c.set_position_mode(hedge), "-4059")

    def _setting(
        self, setting: str, value: str, call: Callable[[FapiClient], Any], no_change_code: str
    ) -> SettingChange:
        try:
            raw = self._call(f"set_{setting}", call, no_change_codes=frozenset({no_change_code}))
        except _NoChange as answer:
            return SettingChange(
                setting,
                value,
                changed=False,
                detail={"code": answer.exchange_code, "msg": answer.message},
            )
        return SettingChange(setting, value, changed=True, detail=_plain(raw))

    def sync_time(self) -> int:
        """Measure the exchange clock against ours (at the midpoint between request and answer)."""
        before = time.time() * 1000
        raw = self._call("sync_time", lambda c: c.fapiPublicGetTime())
        after = time.time() * 1000
        self.time_offset_ms = round(int(raw["serverTime"]) - (before + after) / 2)
        self._clock_due = time.monotonic() + CLOCK_RESYNC_SECONDS
        logger.info("binance clock offset: %+d ms", self.time_offset_ms)
        clock_offset(self.name, self.time_offset_ms)
        return self.time_offset_ms

    def close(self) -> None:
        client = getattr(self._local, "client", None)
        if client is not None:
            client.session.close()


class _NoChange(ExchangeError):
    """Binance's "no need to change" answer, which is a success for a setting call."""

    def __init__(self, code: str, message: str | None):
        super().__init__(message or code, exchange_code=code)


def _plain(raw: Any) -> dict:
    return raw if isinstance(raw, dict) else {"response": raw}
