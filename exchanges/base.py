"""The exchange interface the trading core depends on, and its value objects.

Symbols are exchange symbols ("BTCUSDT"); sides, order types and position sides use
Binance's words ("BUY", "MARKET", "LONG"), the same strings the trading models store.
Every price, quantity and amount is a Decimal; every timestamp is an aware UTC datetime.
Implementations raise only the errors of `exchanges.errors`.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from typing import Any

from exchanges.errors import OrderRejectedError

BUY, SELL = "BUY", "SELL"
MARKET, LIMIT = "MARKET", "LIMIT"
BOTH, LONG, SHORT = "BOTH", "LONG", "SHORT"


# MarketSnapshot and Candle are built once per tick or bar (a million times in a
# backtest): they are plain slotted dataclasses because frozen ones cost about five
# times as much to construct. Treat them as immutable all the same.
@dataclass(slots=True)
class MarketSnapshot:
    """Top of book for one symbol at one moment (Binance bookTicker)."""

    symbol: str
    bid: Decimal
    ask: Decimal
    timestamp: datetime
    bid_qty: Decimal | None = None
    ask_qty: Decimal | None = None
    #: Base volume traded since the previous snapshot, when the feed knows it.
    volume: Decimal | None = None

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2

    @property
    def spread(self) -> Decimal:
        return self.ask - self.bid


@dataclass(slots=True)
class Candle:
    open_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


def _decimal_places(step: Decimal) -> int:
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0  # not NaN or infinite


@dataclass(frozen=True, slots=True)
class SymbolRules:
    """Exchange filters for one symbol (Binance exchangeInfo PRICE_FILTER, LOT_SIZE, ...)."""

    symbol: str
    base_asset: str
    quote_asset: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    min_price: Decimal = Decimal("0")
    max_price: Decimal | None = None
    #: MARKET_LOT_SIZE, which is usually tighter than LOT_SIZE for market orders.
    market_min_qty: Decimal | None = None
    market_max_qty: Decimal | None = None

    @property
    def price_precision(self) -> int:
        return _decimal_places(self.tick_size)

    @property
    def quantity_precision(self) -> int:
        return _decimal_places(self.step_size)

    def round_price(self, price: Decimal, side: str) -> Decimal:
        """Snap a limit price to the tick grid, never to a worse price for us.

        A buy rounds down and a sell rounds up: the rounded order is at most as
        aggressive as the one the strategy asked for, so rounding can never turn a
        passive order into a taker or pay a tick more than intended.
        """
        rounding = ROUND_FLOOR if side == BUY else ROUND_CEILING
        ticks = ((price - self.min_price) / self.tick_size).to_integral_value(rounding=rounding)
        return (self.min_price + ticks * self.tick_size).quantize(self.tick_size)

    def round_quantity(self, quantity: Decimal) -> Decimal:
        """Truncate to the step size: never trade more than asked."""
        steps = (quantity / self.step_size).to_integral_value(rounding=ROUND_DOWN)
        return (steps * self.step_size).quantize(self.step_size)

    def normalize(
        self, request: OrderRequest, reference_price: Decimal | None = None
    ) -> OrderRequest:
        """The request on the exchange's grid, or OrderRejectedError saying which filter.

        `reference_price` values a market order for the min-notional check (the
        exchange uses its mark price; the caller passes the mid it decided on).
        """
        quantity = self.round_quantity(request.quantity)
        price = self.round_price(request.price, request.side) if request.price is not None else None
        is_market = request.order_type == MARKET
        min_qty = self.market_min_qty if is_market and self.market_min_qty else self.min_qty
        max_qty = self.market_max_qty if is_market and self.market_max_qty else self.max_qty
        if quantity < min_qty or quantity <= 0:
            raise OrderRejectedError(
                f"quantity {request.quantity} is below the minimum {min_qty} for {self.symbol}"
                + (
                    f" (rounded down to the step {self.step_size}: {quantity})"
                    if quantity != request.quantity
                    else ""
                ),
                code="local.min_qty",
            )
        if quantity > max_qty:
            raise OrderRejectedError(
                f"quantity {quantity} is above the maximum {max_qty} for {self.symbol}",
                code="local.max_qty",
            )
        if price is not None:
            if price <= 0 or price < self.min_price:
                raise OrderRejectedError(
                    f"price {request.price} is below the minimum {self.min_price} for {self.symbol}",
                    code="local.min_price",
                )
            if self.max_price is not None and price > self.max_price:
                raise OrderRejectedError(
                    f"price {request.price} is above the maximum {self.max_price} for {self.symbol}",
                    code="local.max_price",
                )
        valuation = price if price is not None else reference_price
        # Binance waives the min-notional filter for reduce-only orders.
        if valuation is not None and not request.reduce_only:
            notional = quantity * valuation
            if notional < self.min_notional:
                raise OrderRejectedError(
                    f"order notional {notional.normalize():f} is below the minimum "
                    f"{self.min_notional} for {self.symbol} (quantity {quantity} × price "
                    f"{valuation})",
                    code="local.min_notional",
                )
        return request.replace(quantity=quantity, price=price)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    symbol: str
    side: str
    order_type: str
    quantity: Decimal
    client_order_id: str
    price: Decimal | None = None
    position_side: str = BOTH
    reduce_only: bool = False
    #: GTC for limit orders when empty; ignored for market orders.
    time_in_force: str | None = None

    def replace(self, **changes: Any) -> OrderRequest:
        from dataclasses import replace

        return replace(self, **changes)


class OrderState(enum.StrEnum):
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"

    @property
    def is_open(self) -> bool:
        return self in (OrderState.NEW, OrderState.PARTIALLY_FILLED)


@dataclass(frozen=True, slots=True)
class ExchangeOrder:
    """An order as the exchange knows it."""

    symbol: str
    client_order_id: str
    exchange_order_id: str
    status: OrderState
    side: str
    order_type: str
    quantity: Decimal
    filled_quantity: Decimal
    price: Decimal | None = None
    average_price: Decimal | None = None
    position_side: str = BOTH
    reduce_only: bool = False
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Fill:
    """One trade (execution) of an order."""

    symbol: str
    trade_id: str
    exchange_order_id: str
    side: str
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_asset: str
    executed_at: datetime
    position_side: str = BOTH
    is_maker: bool = False
    #: PnL the exchange says this fill realised (Binance userTrades realizedPnl).
    realized_pnl: Decimal = Decimal("0")
    #: Not every exchange reports it with the trade (Binance userTrades does not).
    client_order_id: str | None = None


@dataclass(frozen=True, slots=True)
class Balance:
    asset: str
    #: Wallet balance plus unrealised PnL (Binance marginBalance).
    total: Decimal
    available: Decimal
    #: Initial margin held by positions and open orders.
    used: Decimal = Decimal("0")
    unrealized_pnl: Decimal = Decimal("0")


@dataclass(frozen=True, slots=True)
class ExchangePosition:
    symbol: str
    position_side: str
    #: Signed: positive long, negative short.
    quantity: Decimal
    entry_price: Decimal
    mark_price: Decimal | None = None
    unrealized_pnl: Decimal = Decimal("0")
    leverage: int | None = None
    #: "isolated" or "cross", when the exchange reports it.
    margin_mode: str | None = None


@dataclass(frozen=True, slots=True)
class SettingChange:
    """Result of a leverage / margin mode / position mode call."""

    setting: str
    value: str
    #: False when the exchange answered "no need to change": already so, and a success.
    changed: bool
    detail: dict = field(default_factory=dict)


class Exchange(abc.ABC):
    """What the trading core needs from an exchange. One instance per process/thread
    is cheap to create; implementations that hold connections are thread-safe."""

    #: Registry name: "paper", "dry-run", "binance".
    name: str
    #: How long after a request was sent the exchange may still execute it. A "no such
    #: order" answer to a lookup is final only once this has passed since the send
    #: (Binance drops requests older than recvWindow); 0 for exchanges that answer
    #: synchronously.
    request_expiry_seconds: float = 0.0

    # --- markets --------------------------------------------------------------------
    @abc.abstractmethod
    def load_markets(self, *, reload: bool = False) -> dict[str, SymbolRules]: ...

    def symbol_rules(self, symbol: str) -> SymbolRules:
        from exchanges.errors import UnknownSymbolError

        rules = self.load_markets()
        try:
            return rules[symbol]
        except KeyError:
            raise UnknownSymbolError(
                f"{symbol} is not traded on {self.name}; known symbols: "
                f"{', '.join(sorted(rules)) or 'none'}",
            ) from None

    @abc.abstractmethod
    def market_snapshot(self, symbol: str) -> MarketSnapshot: ...

    @abc.abstractmethod
    def fetch_ohlcv(
        self, symbol: str, timeframe: str, *, since: datetime | None = None, limit: int = 500
    ) -> list[Candle]: ...

    # --- orders ---------------------------------------------------------------------
    @abc.abstractmethod
    def create_order(self, request: OrderRequest) -> ExchangeOrder:
        """Submit an order. Implementations normalise it with the symbol rules first and
        raise OrderRejectedError, without any request, when a filter refuses it."""

    @abc.abstractmethod
    def cancel_order(self, symbol: str, client_order_id: str) -> ExchangeOrder: ...

    @abc.abstractmethod
    def fetch_order(self, symbol: str, client_order_id: str) -> ExchangeOrder:
        """Raises OrderNotFoundError when the exchange has no such order."""

    @abc.abstractmethod
    def fetch_order_by_exchange_id(self, symbol: str, exchange_order_id: str) -> ExchangeOrder:
        """The order with this exchange order id, which names its client order id: who
        placed a trade found on the account (trades carry no client order id). Raises
        OrderNotFoundError when the exchange has no such order."""

    @abc.abstractmethod
    def fetch_open_orders(self, symbol: str) -> list[ExchangeOrder]: ...

    @abc.abstractmethod
    def fetch_fills(
        self,
        symbol: str,
        *,
        since: datetime | None = None,
        exchange_order_id: str | None = None,
    ) -> list[Fill]: ...

    # --- account --------------------------------------------------------------------
    @abc.abstractmethod
    def fetch_balance(self) -> list[Balance]: ...

    @abc.abstractmethod
    def fetch_positions(self, symbols: list[str] | None = None) -> list[ExchangePosition]:
        """Non-flat positions only."""

    @abc.abstractmethod
    def set_leverage(self, symbol: str, leverage: int) -> SettingChange: ...

    @abc.abstractmethod
    def set_margin_mode(self, symbol: str, *, isolated: bool) -> SettingChange: ...

    @abc.abstractmethod
    def set_position_mode(self, *, hedge: bool) -> SettingChange: ...

    @abc.abstractmethod
    def sync_time(self) -> int:
        """Re-measure the offset to the exchange clock; returns it in milliseconds."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
