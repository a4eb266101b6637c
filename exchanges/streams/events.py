"""Binance USD-M stream events as xQuant's value objects (exchanges.base).

Only the fields xQuant uses are read; every number becomes a Decimal and every time
an aware UTC datetime, exactly as the REST connector's parsers do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from exchanges.base import Candle, ExchangeOrder, Fill, MarketSnapshot, OrderState

_STATES = {state.value: state for state in OrderState}


def _time(ms: int | str | None) -> datetime:
    return datetime.fromtimestamp(int(ms or 0) / 1000, tz=UTC)


def _dec(value: str | int | float | None) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else Decimal("0")


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """One ORDER_TRADE_UPDATE: the order as it now stands, and the trade if it is one."""

    order: ExchangeOrder
    fill: Fill | None
    #: Binance's execution type: NEW, TRADE, CANCELED, EXPIRED, AMENDMENT, CALCULATED.
    execution: str
    event_time: datetime


@dataclass(frozen=True, slots=True)
class ClosedKline:
    symbol: str
    timeframe: str
    candle: Candle


@dataclass(frozen=True, slots=True)
class MarkPrice:
    symbol: str
    mark_price: Decimal
    funding_rate: Decimal
    next_funding_at: datetime
    at: datetime


def book_ticker(message: dict) -> MarketSnapshot | None:
    if message.get("e") not in ("bookTicker", None) or "b" not in message or "a" not in message:
        return None
    return MarketSnapshot(
        symbol=message["s"],
        bid=_dec(message["b"]),
        ask=_dec(message["a"]),
        bid_qty=_dec(message.get("B")),
        ask_qty=_dec(message.get("A")),
        timestamp=_time(message.get("T") or message.get("E")),
    )


def closed_kline(message: dict) -> ClosedKline | None:
    """The bar, if this kline event closes it (Binance sends the open bar many times)."""
    k = message.get("k") or {}
    if message.get("e") != "kline" or not k.get("x"):
        return None
    return ClosedKline(
        symbol=message["s"],
        timeframe=k["i"],
        candle=Candle(
            open_time=_time(k["t"]),
            open=_dec(k["o"]),
            high=_dec(k["h"]),
            low=_dec(k["l"]),
            close=_dec(k["c"]),
            volume=_dec(k["v"]),
        ),
    )


def mark_price(message: dict) -> MarkPrice | None:
    if message.get("e") != "markPriceUpdate":
        return None
    return MarkPrice(
        symbol=message["s"],
        mark_price=_dec(message["p"]),
        funding_rate=_dec(message.get("r")),
        next_funding_at=_time(message.get("T")),
        at=_time(message.get("E")),
    )


def order_update(message: dict) -> OrderUpdate | None:
    if message.get("e") != "ORDER_TRADE_UPDATE" or not isinstance(message.get("o"), dict):
        return None
    o = message["o"]
    status = _STATES.get(o.get("X", ""))
    if status is None:  # NEW_INSURANCE, NEW_ADL: liquidation bookkeeping, not our orders
        return None
    price = _dec(o.get("p"))
    average = _dec(o.get("ap"))
    at = _time(o.get("T") or message.get("E"))
    order = ExchangeOrder(
        symbol=o["s"],
        client_order_id=o["c"],
        exchange_order_id=str(o["i"]),
        status=status,
        side=o["S"],
        order_type=o.get("ot") or o["o"],
        quantity=_dec(o["q"]),
        filled_quantity=_dec(o.get("z")),
        price=price or None,
        average_price=average or None,
        position_side=o.get("ps", "BOTH"),
        reduce_only=bool(o.get("R")),
        updated_at=at,
    )
    fill = None
    if o.get("x") == "TRADE" and _dec(o.get("l")) > 0:
        fill = Fill(
            symbol=o["s"],
            trade_id=str(o["t"]),
            exchange_order_id=str(o["i"]),
            side=o["S"],
            price=_dec(o["L"]),
            quantity=_dec(o["l"]),
            fee=_dec(o.get("n")),
            fee_asset=o.get("N") or "USDT",
            executed_at=at,
            position_side=o.get("ps", "BOTH"),
            is_maker=bool(o.get("m")),
            realized_pnl=_dec(o.get("rp")),
            client_order_id=o["c"],
        )
    return OrderUpdate(
        order=order, fill=fill, execution=o.get("x", ""), event_time=_time(message.get("E"))
    )
