"""Performance metrics of an equity curve and a trade list.

Conventions (the tests pin them with hand-computed curves):
- returns are per bar: r[t] = equity[t] / equity[t-1] - 1;
- Sharpe = mean(r) / std(r, ddof=1) * sqrt(periods per year), risk-free rate 0;
- Sortino = mean(r) / sqrt(mean(min(r, 0)²)) * sqrt(periods per year);
- periods per year come from the data's own timestamps unless the caller states them:
  (bars - 1) returns over the span from the first to the last bar, scaled to a 365-day
  year. So daily stock bars (a 5-day week, holidays) give about 252, daily crypto bars
  365, 15-minute crypto bars 35,040, whatever the bar length says. The result names
  the basis (`annualisation`);
- CAGR = (final / initial) ^ (1 / years) - 1, years = (last bar time - first bar time) /
  365 days;
- max drawdown is the worst fall from a running peak, as a negative fraction. Its
  duration is calendar time: from the last bar at a peak to the first bar back at (or
  above) it, or to the last bar if it never recovers; the longest such stretch counts,
  gaps and weekends included. `max_drawdown_duration_bars` is the number of underwater
  bars in that stretch;
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


def max_drawdown(equity: np.ndarray, times: np.ndarray | None = None) -> tuple[float, int, int]:
    """(worst drawdown as a negative fraction, underwater bars and calendar seconds of the
    longest drawdown). `times` are the bars' times in seconds (default: bar numbers)."""
    n = len(equity)
    if not n:
        return 0.0, 0, 0
    if times is None:
        times = np.arange(n, dtype=np.int64)
    peak = np.maximum.accumulate(equity)
    dd = equity / peak - 1.0
    worst = float(dd.min())
    under = dd < 0
    if not under.any():
        return worst, 0, 0
    # Runs of consecutive underwater bars [start, stop); the peak is the bar before
    # start (bar 0 is never underwater), the end is the recovery bar or the last bar.
    edges = np.diff(np.r_[0, under.view(np.int8), 0])
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    ends = np.minimum(stops, n - 1)
    seconds = np.asarray(times)[ends] - np.asarray(times)[starts - 1]
    k = int(np.argmax(seconds))
    return worst, int(stops[k] - starts[k]), int(seconds[k])


def annualisation(times: np.ndarray, periods_per_year: float | None) -> tuple[float, str]:
    """(periods per year, how they were obtained)."""
    if periods_per_year:
        return float(periods_per_year), f"stated: {periods_per_year:,.6g} periods per year"
    n = len(times)
    span = float(times[-1] - times[0]) if n > 1 else 0.0
    if span <= 0:
        return math.nan, "unknown: fewer than two bar times"
    periods = (n - 1) * YEAR_SECONDS / span
    return periods, (
        f"from the data: {n - 1:,} returns over {span / 86_400:,.2f} days = "
        f"{periods:,.6g} periods per 365-day year"
    )


def equity_metrics(
    equity: np.ndarray,
    *,
    times: np.ndarray,
    initial: float,
    periods_per_year: float | None = None,
) -> dict[str, Any]:
    """`times`: each bar's time in seconds since the epoch (bar open times)."""
    final = float(equity[-1]) if len(equity) else initial
    total_return = final / initial - 1.0
    span_seconds = float(times[-1] - times[0]) if len(times) else 0.0
    years = span_seconds / YEAR_SECONDS
    cagr = math.nan
    if years > 0 and final > 0:
        # Annualising a few minutes of trading overflows: that CAGR is unknown, not huge.
        exponent = math.log(final / initial) / years
        cagr = math.expm1(exponent) if exponent < 700 else math.nan
    periods, basis = annualisation(times, periods_per_year)
    returns = equity[1:] / equity[:-1] - 1.0 if len(equity) > 1 else np.zeros(0)
    sharpe = sortino = math.nan
    if len(returns) > 1 and math.isfinite(periods):
        mean = returns.mean()
        std = returns.std(ddof=1)
        if std > 0:
            sharpe = mean / std * math.sqrt(periods)
        downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
        if downside > 0:
            sortino = mean / downside * math.sqrt(periods)
    mdd, mdd_bars, mdd_seconds = max_drawdown(equity, times)
    return {
        "initial_equity": initial,
        "final_equity": final,
        "total_return": total_return,
        "cagr": _finite(cagr),
        "sharpe": _finite(sharpe),
        "sortino": _finite(sortino),
        "periods_per_year": _finite(periods),
        "annualisation": basis,
        "max_drawdown": mdd,
        "max_drawdown_duration_bars": mdd_bars,
        "max_drawdown_duration_seconds": mdd_seconds,
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
    times: np.ndarray,
    initial: float,
    fees: float,
    periods_per_year: float | None = None,
) -> dict[str, Any]:
    out = equity_metrics(equity, times=times, initial=initial, periods_per_year=periods_per_year)
    out.update(trade_metrics(trade_pnl))
    out["exposure"] = exposure_bars / len(equity) if len(equity) else 0.0
    out["fees"] = fees
    out["bars"] = len(equity)
    return out
