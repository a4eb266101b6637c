"""Binance's raw JSON (the `info` ccxt keeps) into the value objects of exchanges.base.

Read from the raw strings, never from ccxt's unified structures: those hold floats, and
a float cannot carry 27123.4 exactly.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, overload

from exchanges.base import (
    BOTH,
    Balance,
    Candle,
    ExchangeOrder,
    ExchangePosition,
    Fill,
    MarketSnapshot,
    OrderState,
    SymbolRules,
)
from exchanges.market_info import BookLevel, FundingRate, OrderBook, Ticker

Raw = dict[str, Any]
ZERO = Decimal("0")


@overload
def dec(value: Any, default: Decimal = ...) -> Decimal: ...
@overload
def dec(value: Any, default: None) -> Decimal | None: ...
def dec(value: Any, default: Decimal | None = ZERO) -> Decimal | None:
    if value is None or value == "":
        return default
    return Decimal(str(value))


def moment(ms: Any) -> datetime | None:
    if ms in (None, "", 0, "0"):
        return None
    return instant(ms)


def instant(ms: Any) -> datetime:
    """A time Binance always sends (a trade's, a kline's open, the next funding)."""
    return datetime.fromtimestamp(int(ms) / 1000, UTC)


def rules_from_market(info: Raw) -> SymbolRules:
    filters = {f["filterType"]: f for f in info.get("filters", [])}
    price = filters.get("PRICE_FILTER", {})
    lot = filters.get("LOT_SIZE", {})
    market_lot = filters.get("MARKET_LOT_SIZE", {})
    notional = filters.get("MIN_NOTIONAL", {})
    max_price = dec(price.get("maxPrice"), None)
    return SymbolRules(
        symbol=info["symbol"],
        base_asset=info["baseAsset"],
        quote_asset=info["quoteAsset"],
        tick_size=dec(price.get("tickSize"), Decimal("0.01")),
        step_size=dec(lot.get("stepSize"), Decimal("0.001")),
        min_qty=dec(lot.get("minQty")),
        max_qty=dec(lot.get("maxQty"), Decimal("1e12")),
        min_notional=dec(notional.get("notional", notional.get("minNotional"))),
        min_price=dec(price.get("minPrice")),
        max_price=max_price if max_price else None,
        market_min_qty=dec(market_lot.get("minQty"), None),
        market_max_qty=dec(market_lot.get("maxQty"), None),
    )


_STATUSES = {
    "NEW": OrderState.NEW,
    "PARTIALLY_FILLED": OrderState.PARTIALLY_FILLED,
    "FILLED": OrderState.FILLED,
    "CANCELED": OrderState.CANCELED,
    "REJECTED": OrderState.REJECTED,
    "EXPIRED": OrderState.EXPIRED,
    "EXPIRED_IN_MATCH": OrderState.EXPIRED,
}


def order_from_raw(raw: Raw) -> ExchangeOrder:
    price = dec(raw.get("price"), None)
    average = dec(raw.get("avgPrice"), None)
    return ExchangeOrder(
        symbol=raw["symbol"],
        client_order_id=raw["clientOrderId"],
        exchange_order_id=str(raw["orderId"]),
        status=_STATUSES[raw["status"]],
        side=raw["side"],
        order_type=raw.get("origType") or raw["type"],
        quantity=dec(raw["origQty"]),
        filled_quantity=dec(raw.get("executedQty")),
        # Binance shows "0" for the price of a market order and the average of an unfilled one.
        price=price if price else None,
        average_price=average if average else None,
        position_side=raw.get("positionSide") or BOTH,
        reduce_only=bool(raw.get("reduceOnly", False)),
        updated_at=moment(raw.get("updateTime") or raw.get("time")),
    )


def fill_from_raw(raw: Raw) -> Fill:
    return Fill(
        symbol=raw["symbol"],
        trade_id=str(raw["id"]),
        exchange_order_id=str(raw["orderId"]),
        side=raw["side"],
        price=dec(raw["price"]),
        quantity=dec(raw["qty"]),
        fee=dec(raw.get("commission")),
        fee_asset=raw.get("commissionAsset") or "USDT",
        executed_at=instant(raw["time"]),
        position_side=raw.get("positionSide") or BOTH,
        is_maker=bool(raw.get("maker", False)),
        realized_pnl=dec(raw.get("realizedPnl")),
    )


def balances_from_account(raw: Raw) -> list[Balance]:
    return [
        Balance(
            asset=asset["asset"],
            total=dec(asset.get("marginBalance") or asset.get("walletBalance")),
            available=dec(asset.get("availableBalance")),
            used=dec(asset.get("initialMargin")),
            unrealized_pnl=dec(asset.get("unrealizedProfit")),
        )
        for asset in raw.get("assets", [])
        if dec(asset.get("walletBalance")) or dec(asset.get("marginBalance"))
    ]


def position_from_raw(raw: Raw) -> ExchangePosition:
    leverage = raw.get("leverage")
    if raw.get("marginType"):
        margin_mode = "isolated" if raw["marginType"].lower() == "isolated" else "cross"
    else:
        # positionRisk v3 has no marginType: an isolated position has its own wallet.
        margin_mode = "isolated" if dec(raw.get("isolatedWallet")) else "cross"
    return ExchangePosition(
        symbol=raw["symbol"],
        position_side=raw.get("positionSide") or BOTH,
        quantity=dec(raw["positionAmt"]),
        entry_price=dec(raw.get("entryPrice")),
        mark_price=dec(raw.get("markPrice"), None),
        unrealized_pnl=dec(raw.get("unRealizedProfit") or raw.get("unrealizedProfit")),
        leverage=int(leverage) if leverage is not None and leverage != "" else None,
        margin_mode=margin_mode,
    )


def snapshot_from_book_ticker(raw: Raw) -> MarketSnapshot:
    return MarketSnapshot(
        symbol=raw["symbol"],
        bid=dec(raw["bidPrice"]),
        ask=dec(raw["askPrice"]),
        timestamp=moment(raw.get("time")) or datetime.now(UTC),
        bid_qty=dec(raw.get("bidQty"), None),
        ask_qty=dec(raw.get("askQty"), None),
    )


def candle_from_kline(row: list[Any]) -> Candle:
    return Candle(
        open_time=instant(row[0]),
        open=dec(row[1]),
        high=dec(row[2]),
        low=dec(row[3]),
        close=dec(row[4]),
        volume=dec(row[5]),
    )


def ticker_from_raw(raw: Raw) -> Ticker:
    return Ticker(
        symbol=raw["symbol"],
        last=dec(raw["lastPrice"]),
        open=dec(raw["openPrice"]),
        high=dec(raw["highPrice"]),
        low=dec(raw["lowPrice"]),
        volume=dec(raw["volume"]),
        quote_volume=dec(raw["quoteVolume"]),
        change_percent=dec(raw["priceChangePercent"]),
        timestamp=moment(raw.get("closeTime")) or datetime.now(UTC),
    )


def order_book_from_raw(symbol: str, raw: Raw) -> OrderBook:
    return OrderBook(
        symbol=symbol,
        bids=tuple(BookLevel(dec(p), dec(q)) for p, q in raw.get("bids", [])),
        asks=tuple(BookLevel(dec(p), dec(q)) for p, q in raw.get("asks", [])),
        timestamp=moment(raw.get("T") or raw.get("E")) or datetime.now(UTC),
        last_update_id=raw.get("lastUpdateId"),
    )


def funding_from_raw(raw: Raw) -> FundingRate:
    return FundingRate(
        symbol=raw["symbol"],
        mark_price=dec(raw["markPrice"]),
        index_price=dec(raw["indexPrice"]),
        funding_rate=dec(raw["lastFundingRate"]),
        next_funding_time=instant(raw["nextFundingTime"]),
        timestamp=moment(raw.get("time")) or datetime.now(UTC),
    )
