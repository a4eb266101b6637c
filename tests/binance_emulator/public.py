"""The emulator's public (unsigned) market-data endpoints, answered from the account's
top of book: bookTicker, depth, 24hr ticker, price, klines, premiumIndex, and the
leverage brackets ccxt may ask for."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tests.binance_emulator.account import Account, ApiError
from tests.binance_emulator.market import INTERVALS_MS, SYMBOLS, filters_of
from tests.binance_emulator.market import klines as kline_rows


def _each_symbol(account: Account, params: dict, one: Callable[[str], dict]) -> Any:
    symbol = params.get("symbol")
    if symbol is None:
        return [one(s) for s in SYMBOLS]
    account.symbol(params)
    return one(symbol)


def book_ticker(account: Account, now_ms: Callable[[], int], params: dict) -> Any:
    def one(symbol: str) -> dict:
        bid, ask = account.books[symbol]
        return {
            "symbol": symbol, "bidPrice": f"{bid:f}", "bidQty": "3.412", "askPrice": f"{ask:f}",
            "askQty": "1.876", "time": now_ms(), "lastUpdateId": 8712345678955,
        }  # fmt: skip

    return _each_symbol(account, params, one)


def depth(account: Account, now_ms: Callable[[], int], params: dict) -> dict:
    symbol = account.symbol(params)
    bid, ask = account.books[symbol]
    tick = Decimal(filters_of(symbol)["PRICE_FILTER"]["tickSize"])
    levels = min(int(params.get("limit", 500)), 20)
    now = now_ms()
    return {
        "lastUpdateId": 8712345678901, "E": now, "T": now,
        "bids": [[f"{bid - i * tick:f}", "1.000"] for i in range(levels)],
        "asks": [[f"{ask + i * tick:f}", "1.000"] for i in range(levels)],
    }  # fmt: skip


def ticker_24hr(account: Account, now_ms: Callable[[], int], params: dict) -> Any:
    def one(symbol: str) -> dict:
        bid, ask = account.books[symbol]
        last = ask
        return {
            "symbol": symbol, "priceChange": "100.00", "priceChangePercent": "1.500",
            "weightedAvgPrice": f"{bid:f}", "lastPrice": f"{last:f}", "lastQty": "0.010",
            "openPrice": f"{last - 100:f}", "highPrice": f"{last + 50:f}",
            "lowPrice": f"{last - 150:f}", "volume": "152345.678", "quoteVolume": "9829344512.45",
            "openTime": now_ms() - 86_400_000, "closeTime": now_ms(),
            "firstId": 1, "lastId": 2, "count": 2,
        }  # fmt: skip

    return _each_symbol(account, params, one)


def price(account: Account, now_ms: Callable[[], int], params: dict) -> Any:
    def one(symbol: str) -> dict:
        bid, ask = account.books[symbol]
        return {"symbol": symbol, "price": f"{(bid + ask) / 2:f}", "time": now_ms()}

    return _each_symbol(account, params, one)


def klines(account: Account, now_ms: Callable[[], int], params: dict) -> list:
    symbol = account.symbol(params)
    interval = INTERVALS_MS.get(params.get("interval", ""))
    if interval is None:
        raise ApiError(400, -1120, "Invalid interval.")
    bid, ask = account.books[symbol]
    start = int(params["startTime"]) if params.get("startTime") else None
    return kline_rows((bid + ask) / 2, interval, min(int(params.get("limit", 500)), 1500), now_ms(), start)  # fmt: skip


def premium_index(account: Account, now_ms: Callable[[], int], params: dict) -> Any:
    def one(symbol: str) -> dict:
        bid, ask = account.books[symbol]
        mid = (bid + ask) / 2
        now = now_ms()
        return {
            "symbol": symbol, "markPrice": f"{mid:f}", "indexPrice": f"{mid - 1:f}",
            "estimatedSettlePrice": f"{mid:f}", "lastFundingRate": "0.00010000",
            "interestRate": "0.00010000",
            "nextFundingTime": (now // 28_800_000 + 1) * 28_800_000, "time": now,
        }  # fmt: skip

    return _each_symbol(account, params, one)


def leverage_brackets(account: Account, now_ms: Callable[[], int], params: dict) -> list:
    return [
        {"symbol": symbol, "notionalCoef": 1.0, "brackets": [
            {"bracket": 1, "initialLeverage": 125, "notionalCap": 50000, "notionalFloor": 0,
             "maintMarginRatio": 0.004, "cum": 0.0}]}
        for symbol in SYMBOLS
    ]  # fmt: skip
