"""The peers' side of `make bench-research`, run in their own throwaway virtualenv.

Reads the bars (and xQuant's indicator values) that `manage.py bench_research` wrote,
then times the same three jobs with vectorbt, backtesting.py and TA-Lib in wall-clock,
one at a time as the command asks, and checks that TA-Lib's values equal xQuant's after
warm-up.

Nothing here imports xQuant: the peers are measured as their users would run them.
"""

from __future__ import annotations

import json
import sys
import time
import warnings

import numpy as np
import pandas as pd


def _timed(fn, repeat: int) -> tuple[float, float, object]:
    """(best wall-clock seconds, process CPU seconds of that run, result)."""
    best, cpu, out = float("inf"), float("inf"), None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        seconds = time.perf_counter() - t0
        if seconds < best:
            best, cpu = seconds, time.process_time() - c0
    return best, cpu, out


def vectorbt_job(df: pd.DataFrame, fee: float, slippage: float):
    """SMA(10)/SMA(30) cross, long and short, decided at the close and filled at the next
    open, one unit; the portfolio and all its statistics."""
    import vectorbt as vbt

    close = df["Close"]
    fast = vbt.MA.run(close, 10).ma
    slow = vbt.MA.run(close, 30).ma
    up = fast.vbt.crossed_above(slow)
    down = fast.vbt.crossed_below(slow)
    pf = vbt.Portfolio.from_signals(
        close,
        entries=up.shift(1, fill_value=False),
        exits=down.shift(1, fill_value=False),
        direction="both",
        price=df["Open"],
        fees=fee,
        slippage=slippage,
        size=1.0,
        init_cash=10_000_000.0,
        freq="1min",
    )
    stats = pf.stats()
    return int(stats["Total Trades"])


def backtesting_job(df: pd.DataFrame, fee: float):
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover

    class SmaCross(Strategy):
        def init(self):
            close = pd.Series(self.data.Close)
            self.fast = self.I(lambda: close.rolling(10).mean().to_numpy())
            self.slow = self.I(lambda: close.rolling(30).mean().to_numpy())

        def next(self):
            if crossover(self.fast, self.slow):
                self.position.close()
                self.buy(size=1)
            elif crossover(self.slow, self.fast):
                self.position.close()
                self.sell(size=1)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = Backtest(df, SmaCross, cash=10_000_000, commission=fee).run()
    return int(stats["# Trades"])


def talib_job(h, lo, c, v):
    import talib

    out = {}
    out["rsi"] = talib.RSI(c, 14)
    out["macd"], out["macd_signal"], out["macd_diff"] = talib.MACD(c, 12, 26, 9)
    out["bb_upper"], out["bb_middle"], out["bb_lower"] = talib.BBANDS(c, 20, 2.0, 2.0)
    upper, mid, lower = out["bb_upper"], out["bb_middle"], out["bb_lower"]
    out["bb_width"] = (upper - lower) / mid * 100.0
    out["bb_percent"] = (c - lower) / (upper - lower)
    out["atr"] = talib.ATR(h, lo, c, 14)
    out["ema_fast"] = talib.EMA(c, 12)
    out["ema_slow"] = talib.EMA(c, 26)
    out["sma_fast"] = talib.SMA(c, 20)
    out["sma_slow"] = talib.SMA(c, 50)
    out["obv"] = talib.OBV(c, v)
    out["roc"] = talib.ROC(c, 12)
    out["williams_r"] = talib.WILLR(h, lo, c, 14)
    typical = (h + lo + c) / 3.0
    out["vwap"] = talib.SUM(typical * v, 14) / talib.SUM(v, 14)
    # StochRSI as xQuant (and ta) define it: the stochastic of the RSI, %K and %D means.
    r = out["rsi"]
    lowest, highest = talib.MIN(r, 14), talib.MAX(r, 14)
    out["stochrsi"] = (r - lowest) / (highest - lowest)
    out["stochrsi_k"] = talib.SMA(out["stochrsi"], 3)
    out["stochrsi_d"] = talib.SMA(out["stochrsi_k"], 3)
    return out


#: Warm-up bars skipped in the comparison: TA-Lib seeds its EMAs (MACD) and Wilder
#: averages (RSI, ATR) differently in the first bars; both converge well before this.
WARMUP = 1_000


def main() -> None:
    """Load the bars, then run one job per line read from stdin ("vectorbt",
    "backtesting", "talib" or "difference") and answer each with one line of JSON: the
    caller alternates its own jobs with these, so both sides of a ratio meet the same
    neighbours on a shared machine."""
    data = np.load(sys.argv[1])
    o, h, lo, c, v = (
        np.ascontiguousarray(data[k]) for k in ("open", "high", "low", "close", "volume")
    )
    # A naive (UTC) index, as these libraries' users give it: with a tz-aware one, pandas
    # 3 makes vectorbt's result wrapping about 70x slower (objects per timestamp).
    index = pd.to_datetime(data["times"], unit="s")
    df = pd.DataFrame({"Open": o, "High": h, "Low": lo, "Close": c, "Volume": v}, index=index)
    fee, slippage = float(data["fee"]), float(data["slippage"])
    jobs = {
        "vectorbt": lambda: vectorbt_job(df, fee, slippage),
        "backtesting": lambda: backtesting_job(df, fee),
        "talib": lambda: talib_job(h, lo, c, v),
    }
    for line in sys.stdin:
        job = line.strip()
        if job == "difference":
            theirs = talib_job(h, lo, c, v)
            answer = {}
            for name, values in theirs.items():
                ours = data[f"ind_{name}"][WARMUP:]
                scale = np.maximum(np.abs(values[WARMUP:]), 1.0)
                answer[name] = float(np.nanmax(np.abs(ours - values[WARMUP:]) / scale))
        else:
            seconds, cpu, out = _timed(jobs[job], 1)
            answer = {"seconds": seconds, "cpu": cpu}
            answer["result"] = out if isinstance(out, int) else sorted(out)
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
