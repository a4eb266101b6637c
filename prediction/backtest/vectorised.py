"""The vectorised engine: a target position per bar in, equity curve, trades and
metrics out, in O(bars) numpy operations.

Conventions, shared with the event-driven engine and checked against backtesting.py:
- the position decided at bar t's close is filled at bar t+1's open (a decision on the
  last bar is never filled);
- every fill pays `fee_rate` * notional and `slippage_bps` against us;
- a reversal (long → short) is two fills at the same open: close, then open;
- equity is marked at every close: cash + units * close; a trade still open at the end
  is marked to the last close and listed with `exit_time` null.

Sizing "fraction" commits fraction * equity at each entry (notional plus fee, unless
`fee_inside` is off); because every trade's
units are proportional to the equity it starts with, a trade multiplies equity by a
factor that depends only on its own prices, and the whole curve is a cumulative product.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from prediction.backtest.config import BacktestSettings
from prediction.backtest.metrics import all_metrics
from xquant.errors import ValidationError


@dataclass(slots=True)
class TradeArrays:
    side: np.ndarray  # +1 long, -1 short
    entry_bar: np.ndarray
    exit_bar: np.ndarray  # -1 while open
    entry_price: np.ndarray
    exit_price: np.ndarray  # NaN while open
    units: np.ndarray
    pnl: np.ndarray  # net of both fees; open trades: marked to the last close, entry fee only
    fees: np.ndarray

    def __len__(self) -> int:
        return len(self.side)

    @property
    def closed(self) -> np.ndarray:
        return self.exit_bar >= 0


@dataclass(slots=True)
class BacktestResult:
    equity: np.ndarray
    trades: TradeArrays
    metrics: dict[str, Any]
    #: Position held during each bar (after that bar's opening fills).
    held: np.ndarray


def run_vectorised(
    *,
    open_: np.ndarray,
    close: np.ndarray,
    times: np.ndarray,
    target: np.ndarray,
    settings: BacktestSettings,
    bar_seconds: int,
) -> BacktestResult:
    """`times` are bar open times in seconds since the epoch (int64 or float64)."""
    n = len(close)
    held = np.zeros(n, dtype=np.int8)
    if n > 1:
        held[1:] = target[:-1]
    # Runs of a constant non-zero position are trades.
    change = np.empty(n, dtype=bool)
    change[0] = held[0] != 0
    np.not_equal(held[1:], held[:-1], out=change[1:])
    starts = np.flatnonzero(change & (held != 0))
    ends_at = np.flatnonzero(change)  # every change closes the previous run, if any
    side = held[starts].astype(np.float64)
    # A trade ends at the first change after its start; -1 when it runs to the end.
    pos = np.searchsorted(ends_at, starts, side="right")
    exit_bar = np.where(pos < len(ends_at), ends_at[np.minimum(pos, len(ends_at) - 1)], -1)
    closed = exit_bar >= 0

    slip = settings.slippage_bps / 10_000.0
    fee = settings.fee_rate
    entry_price = open_[starts] * (1.0 + slip * side)
    exit_price = np.full(len(starts), np.nan)
    exit_price[closed] = open_[exit_bar[closed]] * (1.0 - slip * side[closed])
    # Open trades are valued at the last close, without an exit fee.
    mark = np.where(closed, exit_price, close[-1] if n else np.nan)
    exit_fee_rate = np.where(closed, fee, 0.0)

    initial = settings.initial_capital
    trade_of_bar = np.cumsum(change & (held != 0)) - 1  # index of the latest trade started
    in_trade = held != 0

    if settings.sizing == "fraction":
        # The share of equity that becomes notional: with the fee inside, notional + fee
        # = fraction * equity (backtesting.py's and vectorbt's convention).
        f = settings.fraction / (1.0 + fee) if settings.fee_inside else settings.fraction
        ratio = mark / entry_price
        growth = 1.0 - fee * f + f * side * (ratio - 1.0) - exit_fee_rate * f * ratio
        # Equity at each trade's entry: the product of the growth of all earlier trades.
        start_equity = initial * np.concatenate(([1.0], np.cumprod(growth[:-1])))
        units = f * start_equity / entry_price
        step = np.ones(n)
        step[exit_bar[closed]] = growth[closed]
        banked = initial * np.cumprod(step)
        k = trade_of_bar[in_trade]
        equity = banked.copy()
        equity[in_trade] = start_equity[k] * (
            1.0 - fee * f + f * side[k] * (close[in_trade] / entry_price[k] - 1.0)
        )
    elif settings.sizing == "fixed":
        q = settings.quantity
        units = np.full(len(starts), q)
        gross = units * side * (mark - entry_price)
        fees_closed = fee * units * (entry_price + np.where(closed, exit_price, 0.0))
        step = np.zeros(n)
        step[exit_bar[closed]] = (gross - fees_closed)[closed]
        banked = initial + np.cumsum(step)
        k = trade_of_bar[in_trade]
        equity = banked.copy()
        equity[in_trade] += (
            q * side[k] * (close[in_trade] - entry_price[k]) - fee * q * entry_price[k]
        )

    else:
        raise ValidationError(
            f"Sizing {settings.sizing!r} needs a strategy that sizes its own orders; signal "
            "strategies (vectorised engine) take sizing fraction or fixed.",
            extra={"fields": {"sizing": ["Not available on the vectorised engine."]}},
        )

    fees = fee * units * (entry_price + np.where(closed, exit_price, 0.0))
    pnl = units * side * (mark - entry_price) - fees
    trades = TradeArrays(
        side=side.astype(np.int8),
        entry_bar=starts,
        exit_bar=exit_bar,
        entry_price=entry_price,
        exit_price=exit_price,
        units=units,
        pnl=pnl,
        fees=fees,
    )
    metrics = all_metrics(
        equity=equity,
        trade_pnl=pnl[closed],
        exposure_bars=int(np.count_nonzero(in_trade)),
        times=times,
        periods_per_year=settings.periods_per_year,
        initial=initial,
        fees=float(fees.sum()),
    )
    return BacktestResult(equity=equity, trades=trades, metrics=metrics, held=held)
