"""Symbols and public market data of the emulator.

The two symbols are Binance's exchangeInfo entries as the reference documents them
(BTCUSDT from a real dump, ETHUSDT illustrative), kept literal here so the connector is
tested against Binance's shapes rather than against its own tables.
"""

from __future__ import annotations

from decimal import Decimal

_ORDER_TYPES = [
    "LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
    "TRAILING_STOP_MARKET",
]  # fmt: skip


def _symbol(symbol: str, base: str, filters: list[dict], underlying: list[str]) -> dict:
    return {
        "symbol": symbol, "pair": symbol, "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000, "onboardDate": 1569398400000, "status": "TRADING",
        "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000",
        "baseAsset": base, "quoteAsset": "USDT", "marginAsset": "USDT",
        "pricePrecision": 2, "quantityPrecision": 3, "baseAssetPrecision": 8,
        "quotePrecision": 8, "underlyingType": "COIN", "underlyingSubType": underlying,
        "settlePlan": 0, "triggerProtect": "0.0500", "liquidationFee": "0.012500",
        "marketTakeBound": "0.05", "maxMoveOrderLimit": 10000,
        "filters": filters, "orderTypes": _ORDER_TYPES,
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
    }  # fmt: skip


SYMBOLS: dict[str, dict] = {
    "BTCUSDT": _symbol(
        "BTCUSDT",
        "BTC",
        [
            {"filterType": "PRICE_FILTER", "minPrice": "556.80", "maxPrice": "4529764", "tickSize": "0.10"},
            {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "1000", "stepSize": "0.001"},
            {"filterType": "MARKET_LOT_SIZE", "minQty": "0.001", "maxQty": "120", "stepSize": "0.001"},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": "100"},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500", "multiplierDecimal": "4"},
        ],
        ["PoW"],
    ),
    "ETHUSDT": _symbol(
        "ETHUSDT",
        "ETH",
        [
            {"filterType": "PRICE_FILTER", "minPrice": "39.86", "maxPrice": "306177", "tickSize": "0.01"},
            {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "10000", "stepSize": "0.001"},
            {"filterType": "MARKET_LOT_SIZE", "minQty": "0.001", "maxQty": "2000", "stepSize": "0.001"},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": "20"},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500", "multiplierDecimal": "4"},
        ],
        ["Layer-1"],
    ),
}  # fmt: skip

#: Top of book each emulator starts with: (bid, ask).
DEFAULT_BOOKS = {
    "BTCUSDT": (Decimal("65000.00"), Decimal("65000.10")),
    "ETHUSDT": (Decimal("3499.99"), Decimal("3500.00")),
}


def filters_of(symbol: str) -> dict[str, dict]:
    return {f["filterType"]: f for f in SYMBOLS[symbol]["filters"]}


def exchange_info(server_time: int) -> dict:
    return {
        "timezone": "UTC",
        "serverTime": server_time,
        "futuresType": "U",
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
        ],
        "exchangeFilters": [],
        "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
        "symbols": list(SYMBOLS.values()),
    }  # fmt: skip


def klines(mid: Decimal, interval_ms: int, limit: int, end_ms: int, start_ms: int | None) -> list:
    """Flat-ish candles around the current mid: enough for parsers, not for research."""
    if start_ms is not None:
        first = start_ms - start_ms % interval_ms
    else:
        current = end_ms - end_ms % interval_ms
        first = current - (limit - 1) * interval_ms
    rows = []
    for i in range(limit):
        open_time = first + i * interval_ms
        if open_time > end_ms:
            break
        wiggle = Decimal(i % 5) / 10
        o, c = mid - wiggle, mid + wiggle
        rows.append(
            [
                open_time, f"{o:f}", f"{c + 1:f}", f"{o - 1:f}", f"{c:f}", "10.000",
                open_time + interval_ms - 1, f"{mid * 10:f}", 100, "5.000", f"{mid * 5:f}", "0",
            ]
        )  # fmt: skip
    return rows


INTERVALS_MS = {
    "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
    "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "8h": 28_800_000,
    "12h": 43_200_000, "1d": 86_400_000, "3d": 259_200_000, "1w": 604_800_000,
}  # fmt: skip
