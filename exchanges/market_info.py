"""Public market data beyond the trading interface, for research collection: 24-hour
ticker, order book depth and funding rate. Decimals and aware UTC datetimes throughout."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Ticker:
    """Rolling 24-hour statistics (Binance ticker/24hr). Futures tickers carry no bid/ask:
    use Exchange.market_snapshot for the top of book."""

    symbol: str
    last: Decimal
    open: Decimal
    high: Decimal
    low: Decimal
    #: Base-asset volume and quote-asset volume over the 24 hours.
    volume: Decimal
    quote_volume: Decimal
    change_percent: Decimal
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class BookLevel:
    price: Decimal
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class OrderBook:
    symbol: str
    #: Best first: bids descending, asks ascending.
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    timestamp: datetime
    last_update_id: int | None = None


@dataclass(frozen=True, slots=True)
class FundingRate:
    """Mark price and funding (Binance premiumIndex)."""

    symbol: str
    mark_price: Decimal
    index_price: Decimal
    #: The rate of the current funding period (0.0001 = 0.01%).
    funding_rate: Decimal
    next_funding_time: datetime
    timestamp: datetime
