"""Read-only research answers for the API: candles, indicators, signals, the strategy
catalogue. Every bad input raises xquant ValidationError (400) with what is allowed."""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
from rest_framework import fields as drf
from rest_framework import serializers

from prediction.indicators import (
    INDICATOR_COLUMNS,
    OHLCV,
    IndicatorParams,
    indicator_params,
    indicators_compute,
)
from prediction.models import BacktestEngine, Candle
from prediction.selectors import candle_frame
from prediction.signals import SIGNAL_STRATEGIES, signal_strategy_build
from prediction.timeframes import timeframe_seconds

SIDE = {1: "long", -1: "short", 0: "flat"}
ACTIONS = {
    (0, 1): "enter_long",
    (0, -1): "enter_short",
    (1, 0): "exit",
    (-1, 0): "exit",
    (-1, 1): "reverse_to_long",
    (1, -1): "reverse_to_short",
}


def _f(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def market_data(
    *,
    symbol: str,
    timeframe: str,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 500,
) -> dict[str, Any]:
    candle_frame(
        symbol=symbol, timeframe=timeframe, start=start, end=end, limit=1
    )  # validates, loads sample
    # Real candles only, like every research read (synthetic ones share open times).
    qs = Candle.objects.filter(symbol=symbol, timeframe=timeframe, synthetic=False)
    if start:
        qs = qs.filter(open_time__gte=start)
    if end:
        qs = qs.filter(open_time__lt=end)
    rows = list(
        qs.order_by("-open_time").values("open_time", "open", "high", "low", "close", "volume")[
            :limit
        ]
    )
    rows.reverse()
    for row in rows:
        for key in ("open", "high", "low", "close", "volume"):
            row[key] = _plain(row[key])
    return {"symbol": symbol, "timeframe": timeframe, "count": len(rows), "candles": rows}


def _plain(value: Decimal) -> Decimal:
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def indicators_report(
    *,
    symbol: str,
    timeframe: str,
    params: dict[str, Any] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 500,
) -> dict[str, Any]:
    p = indicator_params(params)
    # Compute over extra history so the returned bars are past the longest warm-up.
    warmup = max(v for k, v in p.items() if isinstance(v, int)) * 3
    frame = candle_frame(
        symbol=symbol, timeframe=timeframe, start=start, end=end, limit=limit + warmup
    )
    values = indicators_compute(OHLCV.from_frame(frame), p)
    shown = slice(max(0, len(frame) - limit), len(frame))
    closes = frame["close"].to_numpy()
    index = frame.index
    series = []
    for i in range(shown.start, shown.stop):
        row = {"open_time": index[i].isoformat(), "close": float(closes[i])}
        row.update({name: _f(values[name][i]) for name in INDICATOR_COLUMNS})
        series.append(row)
    return {
        "symbol": symbol,
        "timeframe": timeframe,
        "params": p,
        "latest": {name: _f(values[name][-1]) for name in INDICATOR_COLUMNS},
        "series": series,
    }


def signals_report(
    *,
    symbol: str,
    timeframe: str,
    strategy: str,
    params: dict[str, Any] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 500,
    history: int = 50,
) -> dict[str, Any]:
    """The latest target position with its reasons, and the recent position changes.

    Decisions are taken at bar closes: `time` is the close of the decision bar."""
    signal = signal_strategy_build(strategy, params)
    frame = candle_frame(symbol=symbol, timeframe=timeframe, start=start, end=end, limit=limit)
    bars = OHLCV.from_frame(frame)
    result = signal.compute(bars)
    n = len(frame)
    if n <= result.warmup:
        from xquant.errors import ValidationError

        raise ValidationError(
            f"{strategy} with these parameters needs more than {result.warmup} bars; the range "
            f"holds {n} {timeframe} candles of {symbol}. Widen the range or raise limit.",
            extra={"fields": {"limit": [f"More than {result.warmup} bars are needed."]}},
        )
    closes_at = frame.index + np.timedelta64(timeframe_seconds(timeframe), "s")
    pos = result.position.astype(np.int64)
    last = n - 1
    prev = int(pos[last - 1]) if n > 1 else 0
    latest = {
        "time": closes_at[last].isoformat(),
        "signal": SIDE[int(pos[last])],
        "action": ACTIONS.get((prev, int(pos[last])), "hold"),
        "price": float(bars.close[last]),
        "reasons": signal.reasons(bars, result, last),
    }
    changes = np.flatnonzero(np.diff(pos) != 0) + 1
    changes = changes[changes >= result.warmup][-history:] if history else changes[:0]
    return {
        "symbol": symbol,
        "timeframe": timeframe,
        "strategy": strategy,
        "params": signal.params,
        "bars": n,
        "latest": latest,
        "history": [
            {
                "time": closes_at[i].isoformat(),
                "signal": SIDE[int(pos[i])],
                "price": float(bars.close[i]),
            }
            for i in changes.tolist()
        ],
    }


_TYPES = [
    (serializers.BooleanField, "boolean"),
    (serializers.IntegerField, "integer"),
    (serializers.FloatField, "number"),
    (serializers.DecimalField, "decimal"),
    (serializers.ChoiceField, "choice"),
    (serializers.ListField, "list"),
]


def param_specs(serializer_class: type[serializers.Serializer]) -> list[dict[str, Any]]:
    specs = []
    for name, field in serializer_class().fields.items():
        kind = next((label for cls, label in _TYPES if isinstance(field, cls)), "string")
        default = None if field.default is drf.empty else field.default
        if isinstance(default, Decimal):
            default = str(default)
        specs.append(
            {
                "name": name,
                "type": kind,
                "default": default,
                "required": field.required,
                "min": _jsonable(getattr(field, "min_value", None)),
                "max": _jsonable(getattr(field, "max_value", None)),
                "choices": list(field.choices)
                if isinstance(field, serializers.ChoiceField)
                else None,
                "help": str(field.help_text or ""),
            }
        )
    return specs


def _jsonable(v: Any) -> Any:
    return str(v) if isinstance(v, Decimal) else v


def strategy_catalogue() -> list[dict[str, Any]]:
    """Signal strategies (vectorised) and the live trading kinds (event-driven), with
    their parameters."""
    from trading.strategies.base import STRATEGY_CLASSES
    from trading.strategies.params import PARAMS_BY_KIND

    out = [
        {
            "name": cls.name,
            "title": cls.title,
            "description": cls.description,
            "engine": BacktestEngine.VECTORISED,
            "params": param_specs(cls.params_serializer),
        }
        for cls in SIGNAL_STRATEGIES.values()
    ]
    import trading.strategies  # noqa: F401 - registers the kinds

    for kind in sorted(STRATEGY_CLASSES):
        cls = STRATEGY_CLASSES[kind]
        doc = (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        out.append(
            {
                "name": kind,
                "title": f"{kind} (live trading strategy)",
                "description": doc,
                "engine": BacktestEngine.EVENT_DRIVEN,
                "params": param_specs(PARAMS_BY_KIND[kind]),
            }
        )
    return out


def indicator_catalogue() -> list[dict[str, Any]]:
    return param_specs(IndicatorParams)


def live_market_data(*, symbol: str, depth: int = 20, exchange=None) -> dict[str, Any]:
    """Top of book, 24-hour ticker, order book and funding of the configured exchange.

    The snapshot comes from every exchange; ticker, order book and funding rate only from
    an exchange that publishes them (Binance), otherwise they are null."""
    from dataclasses import asdict

    from exchanges.registry import get_exchange

    exchange = exchange or get_exchange()
    exchange.symbol_rules(symbol)  # UnknownSymbolError (400) naming the known symbols
    snapshot = exchange.market_snapshot(symbol)
    out: dict[str, Any] = {
        "symbol": symbol,
        "exchange": exchange.name,
        "snapshot": {
            "bid": snapshot.bid,
            "ask": snapshot.ask,
            "mid": snapshot.mid,
            "timestamp": snapshot.timestamp,
        },
        "ticker": None,
        "order_book": None,
        "funding": None,
    }
    if hasattr(exchange, "fetch_ticker"):
        out["ticker"] = asdict(exchange.fetch_ticker(symbol))
    if hasattr(exchange, "fetch_order_book"):
        book = exchange.fetch_order_book(symbol, limit=depth)
        out["order_book"] = {
            "bids": [[lvl.price, lvl.quantity] for lvl in book.bids[:depth]],
            "asks": [[lvl.price, lvl.quantity] for lvl in book.asks[:depth]],
            "timestamp": book.timestamp,
        }
    if hasattr(exchange, "fetch_funding_rate"):
        out["funding"] = asdict(exchange.fetch_funding_rate(symbol))
    return out
