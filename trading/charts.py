"""Data of the dashboard's charts, as the browser's chart library takes it.

Market: the recent candles of a symbol (from the exchange, or research's stored candles
when it cannot answer), selected indicators over them (research's indicators), and the
desk's own orders and fills of that symbol as markers.
Backtest: the equity curve of a run and its drawdown.

Times are UTC epoch seconds (what lightweight-charts calls UTCTimestamp); the browser
shows them in the user's timezone. Prices are floats here: a chart is a picture, not
accounting (tables on the same pages show the Decimals).
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from exchanges.errors import ExchangeError
from prediction.indicators import OHLCV, indicator_params, indicators_compute
from prediction.selectors import COLUMNS, candle_frame, frame_times
from prediction.timeframes import timeframe_seconds
from trading.models import Fill, Order, OrderStatus

logger = logging.getLogger(__name__)

#: Indicator groups a trader can switch on, and the columns of research's indicators
#: each draws. "pane" groups get a pane of their own under the price.
INDICATOR_GROUPS: dict[str, dict[str, Any]] = {
    "sma": {"label": "SMA 20 / 50", "columns": ["sma_fast", "sma_slow"], "pane": False},
    "ema": {"label": "EMA 12 / 26", "columns": ["ema_fast", "ema_slow"], "pane": False},
    "bb": {
        "label": "Bollinger 20, 2σ",
        "columns": ["bb_upper", "bb_middle", "bb_lower"],
        "pane": False,
    },
    "vwap": {"label": "VWAP 14", "columns": ["vwap"], "pane": False},
    "rsi": {"label": "RSI 14", "columns": ["rsi"], "pane": True},
    "macd": {
        "label": "MACD 12 / 26 / 9",
        "columns": ["macd", "macd_signal", "macd_diff"],
        "pane": True,
    },
}
DEFAULT_INDICATORS = ("sma", "bb", "rsi")
#: Bars a market chart shows.
MARKET_BARS = 300
#: Unfilled orders are markers too: the reason a strategy did not trade is visible.
UNFILLED_MARKED = (
    OrderStatus.OPEN,
    OrderStatus.PARTIALLY_FILLED,
    OrderStatus.REJECTED,
    OrderStatus.CANCELED,
    OrderStatus.EXPIRED,
)


def _num(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def recent_candles(*, symbol: str, timeframe: str, bars: int) -> tuple[pd.DataFrame, str]:
    """The latest bars as research's candle frame: straight from the exchange (the forming
    bar included; nothing is stored), or the stored candles when the exchange cannot
    answer. The second value says which, when it is not the exchange."""
    from exchanges.registry import get_exchange

    try:
        candles = get_exchange().fetch_ohlcv(symbol, timeframe, limit=bars)
    except ExchangeError as exc:
        logger.warning("no %s candles of %s from the exchange: %s", timeframe, symbol, exc)
        notice = f"Stored candles: the exchange did not answer ({exc.message})."
    else:
        if candles:
            index = pd.DatetimeIndex([c.open_time for c in candles], name="open_time")
            rows = [[float(getattr(c, k)) for k in COLUMNS] for c in candles]
            return pd.DataFrame(rows, index=index, columns=list(COLUMNS)), ""
        notice = f"Stored candles: the exchange has no {timeframe} candles of {symbol}."
    return candle_frame(symbol=symbol, timeframe=timeframe, limit=bars), notice


def _bucket(moment: datetime, seconds: int) -> int:
    epoch = int(moment.timestamp())
    return epoch - epoch % seconds


def market_chart(
    *,
    symbol: str,
    timeframe: str,
    indicators: list[str] | tuple[str, ...] = DEFAULT_INDICATORS,
    strategy_id: int | None = None,
    bars: int = MARKET_BARS,
) -> dict[str, Any]:
    """Everything the Market page's chart draws, JSON-safe."""
    seconds = timeframe_seconds(timeframe)
    frame, notice = recent_candles(symbol=symbol, timeframe=timeframe, bars=bars)
    times = frame_times(frame).tolist()
    candles = [
        {"time": t, "open": o, "high": h, "low": lo, "close": c}
        for t, o, h, lo, c in zip(
            times,
            frame["open"].tolist(),
            frame["high"].tolist(),
            frame["low"].tolist(),
            frame["close"].tolist(),
            strict=True,
        )
    ]
    chosen = [name for name in indicators if name in INDICATOR_GROUPS]
    series: dict[str, list[dict[str, float]]] = {}
    if chosen:
        values = indicators_compute(OHLCV.from_frame(frame), indicator_params({}))
        for name in chosen:
            for column in INDICATOR_GROUPS[name]["columns"]:
                series[column] = [
                    {"time": t, "value": v}
                    for t, v in zip(times, map(_num, values[column].tolist()), strict=True)
                    if v is not None
                ]
    first = datetime.fromtimestamp(times[0], tz=UTC) if times else None
    return {
        "symbol": symbol,
        "timeframe": timeframe,
        "bar_seconds": seconds,
        "candles": candles,
        "indicators": {name: INDICATOR_GROUPS[name] for name in chosen},
        "series": series,
        "markers": _markers(symbol, seconds, first, strategy_id) if first else [],
        "notice": notice,
    }


def _markers(
    symbol: str, seconds: int, since: datetime, strategy_id: int | None
) -> list[dict[str, Any]]:
    """One marker per bar and kind (buy fills, sell fills, unfilled orders, rejections),
    with a count when there are several: an execution algorithm fills every few ticks."""
    fills = Fill.objects.filter(symbol=symbol, executed_at__gte=since)
    orders = Order.objects.filter(
        symbol=symbol, created_at__gte=since, status__in=UNFILLED_MARKED, filled_quantity=0
    )
    if strategy_id is not None:
        fills = fills.filter(strategy_id=strategy_id)
        orders = orders.filter(strategy_id=strategy_id)
    grouped: dict[tuple[int, str], dict[str, Any]] = {}
    for fill in fills.only("side", "executed_at", "quantity"):
        _add(grouped, fill_marker(fill, seconds), fill.quantity)
    for order in orders.only("side", "status", "created_at", "quantity"):
        _add(grouped, order_marker(order, seconds), order.quantity)
    markers = []
    for marker in grouped.values():
        count = marker.pop("count")
        if count > 1:
            marker["text"] = f"{marker['text']}×{count}"
        marker["quantity"] = f"{marker['quantity'].normalize():f}"
        markers.append(marker)
    return sorted(markers, key=lambda m: (m["time"], m["kind"]))


def _add(grouped: dict, marker: dict[str, Any], quantity) -> None:
    key = (marker["time"], marker["kind"])
    if key in grouped:
        grouped[key]["count"] += 1
        grouped[key]["quantity"] += quantity
    else:
        grouped[key] = {**marker, "count": 1, "quantity": quantity}


def fill_marker(fill: Fill, seconds: int) -> dict[str, Any]:
    buy = fill.side == "BUY"
    return {
        "time": _bucket(fill.executed_at, seconds),
        "position": "belowBar" if buy else "aboveBar",
        "shape": "arrowUp" if buy else "arrowDown",
        "kind": "buy" if buy else "sell",
        "text": "B" if buy else "S",
    }


def order_marker(order: Order, seconds: int) -> dict[str, Any]:
    rejected = order.status == OrderStatus.REJECTED
    return {
        "time": _bucket(order.created_at, seconds),
        "position": "aboveBar",
        "shape": "circle",
        "kind": "rejected" if rejected else "order",
        "text": "rejected" if rejected else "unfilled",
    }


def equity_chart(equity_curve: list[list]) -> dict[str, list[dict[str, float]]]:
    """Equity and drawdown (from the running peak, in percent) of a backtest run."""
    equity, drawdown = [], []
    peak = -math.inf
    for iso, value in equity_curve:
        if value is None:
            continue
        time = int(datetime.fromisoformat(iso).timestamp())
        peak = max(peak, value)
        equity.append({"time": time, "value": value})
        drawdown.append({"time": time, "value": (value / peak - 1) * 100 if peak > 0 else 0.0})
    return {"equity": equity, "drawdown": drawdown}
