"""One entry point per engine from stored candles to a BacktestResult, shared by the
service, the management commands and the benchmark."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from exchanges.base import SymbolRules
from prediction.backtest.config import BacktestSettings
from prediction.backtest.event_driven import run_event_driven
from prediction.backtest.vectorised import BacktestResult, run_vectorised
from prediction.indicators import OHLCV
from prediction.selectors import frame_times
from prediction.signals import signal_strategy_build
from trading.strategies.base import Strategy, build_strategy
from xquant.errors import ValidationError

Progress = Callable[[int, int], None]


def backtest_rules(symbol: str, settings: BacktestSettings) -> SymbolRules:
    """Exchange filters of the simulated market: the settings' tick, Binance-like lots."""
    tick = Decimal(repr(settings.tick_size)).normalize()
    return SymbolRules(
        symbol=symbol,
        base_asset=symbol[:-4] if symbol.endswith("USDT") else symbol,
        quote_asset="USDT",
        tick_size=tick,
        step_size=Decimal("0.001"),
        min_qty=Decimal("0.001"),
        max_qty=Decimal("100000"),
        min_notional=Decimal("0"),
    )


#: Strategy kinds that build bars from snapshots (their `bar_seconds` parameter).
BAR_BUILDING_KINDS = ("technical", "combined")


def trading_strategy_build(
    *,
    kind: str,
    symbol: str,
    params: dict[str, Any],
    settings: BacktestSettings,
    bar_seconds: int | None = None,
) -> Strategy:
    """A live strategy class for a backtest, with validated params (ValidationError).

    A bar-building strategy without an explicit `bar_seconds` builds bars of the
    backtest's timeframe: two snapshots per candle, one strategy bar per candle."""
    params = dict(params or {})
    if kind in BAR_BUILDING_KINDS and bar_seconds and "bar_seconds" not in params:
        params["bar_seconds"] = bar_seconds
    try:
        return build_strategy(
            kind=kind, symbol=symbol, params=params, rules=backtest_rules(symbol, settings)
        )
    except KeyError:
        from trading.strategies.base import STRATEGY_CLASSES

        raise ValidationError(
            f"Trading strategy kind {kind!r} has no strategy class. Available: "
            f"{', '.join(sorted(STRATEGY_CLASSES)) or 'none'}.",
            extra={"fields": {"strategy": [f"No strategy class for {kind!r}."]}},
        ) from None


def run_signal_backtest(
    *,
    frame: pd.DataFrame,
    strategy: str,
    params: dict[str, Any] | None,
    settings: BacktestSettings,
    bar_seconds: int,
) -> tuple[BacktestResult, dict[str, Any]]:
    """(result, validated params) of a signal strategy over a candle frame."""
    signal = signal_strategy_build(strategy, params)
    bars = OHLCV.from_frame(frame)
    target = signal.compute(bars).position
    result = run_vectorised(
        open_=bars.open,
        close=bars.close,
        times=frame_times(frame),
        target=target,
        settings=settings,
        bar_seconds=bar_seconds,
    )
    return result, signal.params


def run_strategy_backtest(
    *,
    frame: pd.DataFrame,
    strategy: Strategy,
    settings: BacktestSettings,
    bar_seconds: int,
    progress: Progress | None = None,
) -> BacktestResult:
    bars = OHLCV.from_frame(frame)
    return run_event_driven(
        strategy=strategy,
        open_=bars.open,
        high=bars.high,
        low=bars.low,
        close=bars.close,
        volume=bars.volume,
        times=frame_times(frame),
        bar_seconds=bar_seconds,
        settings=settings,
        progress=progress,
        progress_every=max(1_000, len(frame) // 50),
    )


def result_trades(
    result: BacktestResult, index: pd.DatetimeIndex, *, limit: int = 5_000
) -> list[dict]:
    """The most recent `limit` trades as JSON-safe dicts."""
    t = result.trades
    rows = []
    start = max(0, len(t) - limit)
    for k in range(start, len(t)):
        closed = t.exit_bar[k] >= 0
        rows.append(
            {
                "side": "long" if t.side[k] > 0 else "short",
                "entry_time": index[t.entry_bar[k]].isoformat(),
                "exit_time": index[t.exit_bar[k]].isoformat() if closed else None,
                "entry_price": _num(t.entry_price[k]),
                "exit_price": _num(t.exit_price[k]) if closed else None,
                "quantity": _num(t.units[k]),
                "pnl": _num(t.pnl[k]),
                "fees": _num(t.fees[k]),
                "open": not closed,
            }
        )
    return rows


def result_equity_curve(
    result: BacktestResult, index: pd.DatetimeIndex, *, points: int = 2_000
) -> list[list]:
    """[[iso time, equity], ...] downsampled evenly, always keeping the last bar."""
    n = len(result.equity)
    if n == 0:
        return []
    picks = np.unique(np.r_[np.linspace(0, n - 1, min(points, n)).astype(np.int64), n - 1])
    return [[index[i].isoformat(), _num(result.equity[i])] for i in picks.tolist()]


def _num(x: float) -> float | None:
    return round(float(x), 8) if np.isfinite(x) else None
