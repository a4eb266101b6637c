"""Performance metrics of an equity curve and a trade list.

Conventions (the tests pin them with hand-computed curves):
- returns are per bar: r[t] = equity[t] / equity[t-1] - 1;
- Sharpe = mean(r) / std(r, ddof=1) * sqrt(bars per year), risk-free rate 0;
- Sortino = mean(r) / sqrt(mean(min(r, 0)²)) * sqrt(bars per year);
- a year is 365 days (crypto trades every day), so bars per year = 365 * 86400 / bar seconds;
- CAGR = (final / initial) ^ (1 / years) - 1, years = (last bar time - first bar time) / year;
- max drawdown is the worst fall from a running peak, as a negative fraction; its duration
  is the longest run of consecutive bars spent below a previous peak;
- trade statistics count closed trades only; a position still open at the end is marked to
  the last close in the equity curve but is not a trade yet;
- exposure is the fraction of bars during which a position was held.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

YEAR_SECONDS = 365 * 86_400


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def max_drawdown(equity: np.ndarray) -> tuple[float, int]:
    """(worst drawdown as a negative fraction, longest underwater run in bars)."""
    peak = np.maximum.accumulate(equity)
    dd = equity / peak - 1.0
    worst = float(dd.min()) if len(dd) else 0.0
    under = dd < 0
    if not under.any():
        return worst, 0
    # Run lengths of consecutive underwater bars.
    edges = np.diff(np.r_[0, under.view(np.int8), 0])
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return worst, int((ends - starts).max())


def equity_metrics(
    equity: np.ndarray, *, bar_seconds: int, span_seconds: float, initial: float
) -> dict[str, Any]:
    final = float(equity[-1]) if len(equity) else initial
    total_return = final / initial - 1.0
    years = span_seconds / YEAR_SECONDS
    cagr = math.nan
    if years > 0 and final > 0:
        # Annualising a few minutes of trading overflows: that CAGR is unknown, not huge.
        exponent = math.log(final / initial) / years
        cagr = math.expm1(exponent) if exponent < 700 else math.nan
    periods = YEAR_SECONDS / bar_seconds
    returns = equity[1:] / equity[:-1] - 1.0 if len(equity) > 1 else np.zeros(0)
    sharpe = sortino = math.nan
    if len(returns) > 1:
        mean = returns.mean()
        std = returns.std(ddof=1)
        if std > 0:
            sharpe = mean / std * math.sqrt(periods)
        downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
        if downside > 0:
            sortino = mean / downside * math.sqrt(periods)
    mdd, mdd_bars = max_drawdown(equity) if len(equity) else (0.0, 0)
    return {
        "initial_equity": initial,
        "final_equity": final,
        "total_return": total_return,
        "cagr": _finite(cagr),
        "sharpe": _finite(sharpe),
        "sortino": _finite(sortino),
        "max_drawdown": mdd,
        "max_drawdown_duration_bars": mdd_bars,
        "max_drawdown_duration_seconds": mdd_bars * bar_seconds,
    }


def trade_metrics(pnl: np.ndarray) -> dict[str, Any]:
    """From the net PnL (after fees) of each closed trade."""
    count = len(pnl)
    wins = pnl[pnl > 0]
    losses = pnl[pnl < 0]
    gross_profit = float(wins.sum())
    gross_loss = float(-losses.sum())
    if gross_loss > 0:
        profit_factor: float | None = gross_profit / gross_loss
    else:
        # No losing trade: the ratio is unbounded; reported as null, not as infinity.
        profit_factor = None
    return {
        "trade_count": count,
        "win_rate": len(wins) / count if count else None,
        "profit_factor": profit_factor,
        "expectancy": float(pnl.mean()) if count else None,
        "gross_profit": gross_profit,
        "gross_loss": gross_loss,
    }


def all_metrics(
    *,
    equity: np.ndarray,
    trade_pnl: np.ndarray,
    exposure_bars: int,
    bar_seconds: int,
    span_seconds: float,
    initial: float,
    fees: float,
) -> dict[str, Any]:
    out = equity_metrics(
        equity, bar_seconds=bar_seconds, span_seconds=span_seconds, initial=initial
    )
    out.update(trade_metrics(trade_pnl))
    out["exposure"] = exposure_bars / len(equity) if len(equity) else 0.0
    out["fees"] = fees
    out["bars"] = len(equity)
    return out
