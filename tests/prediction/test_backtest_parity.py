"""Strict parity with backtesting.py 0.6.6, both engines, two real data sets.

Conventions: SMA(10)/SMA(30) crossover, long/flat; the signal on a bar's close fills at
the next bar's open; 4 bp commission per side; all-in fractional sizing with the fee
inside (notional + fee = cash); 1,000,000 initial cash; a position still open at the end
stays open, marked at the last close. Data: the bundled BTC 15-minute candles (crypto,
every day, around the clock) and backtesting.py's own GOOG daily bars (a stock: five
days a week, holidays). Same entry and exit bars, final equity within 1e-9 relative.

backtesting.py trades whole units; FractionalBacktest scales prices by a tiny unit so
that whole units of it are practically fractional (an all-in entry rounds away at most
one 1e-10 of a share or coin).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from backtesting import Strategy
from backtesting.lib import FractionalBacktest, crossover
from backtesting.test import GOOG

from prediction.backtest.config import backtest_settings
from prediction.backtest.event_driven import run_event_driven
from prediction.backtest.runner import trading_strategy_build
from prediction.backtest.vectorised import run_vectorised
from prediction.indicators import OHLCV
from prediction.signals import signal_strategy_build

CASH = 1_000_000
FEE = 0.0004
# backtesting.py reads a size below 1 as a fraction of the available margin.
ALL_IN = 1 - 1e-15


class SmaCrossLongFlat(Strategy):
    def init(self):
        close = pd.Series(self.data.Close)
        self.fast = self.I(lambda: close.rolling(10).mean().to_numpy(), name="fast")
        self.slow = self.I(lambda: close.rolling(30).mean().to_numpy(), name="slow")

    def next(self):
        if crossover(self.fast, self.slow) and not self.position:
            self.buy(size=ALL_IN)
        elif crossover(self.slow, self.fast) and self.position:
            self.position.close()


def _backtesting_py(frame: pd.DataFrame):
    data = frame.rename(columns=str.capitalize)[["Open", "High", "Low", "Close", "Volume"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "some trades remain open": intended
        stats = FractionalBacktest(
            data,
            SmaCrossLongFlat,
            cash=CASH,
            commission=FEE,
            finalize_trades=False,
            fractional_unit=1e-10,
        ).run()
    return stats


def _times(frame: pd.DataFrame) -> np.ndarray:
    index = frame.index if frame.index.tz is not None else frame.index.tz_localize("UTC")
    return index.as_unit("s").asi8


def _bar_seconds(times: np.ndarray) -> int:
    return int(np.median(np.diff(times)))


SETTINGS = {
    "initial_capital": CASH,
    "fee_rate": FEE,
    "sizing": "fraction",
    "fraction": 1,
    "fee_inside": True,
    "spread_bps": 0,
    "tick_size": 1e-7,
}


def _vectorised(frame: pd.DataFrame):
    bars = OHLCV.from_frame(frame)
    times = _times(frame)
    signal = signal_strategy_build(
        "trend_following",
        {"ma_type": "sma", "fast": 10, "slow": 30, "allow_short": False, "rule": "cross"},
    )
    return run_vectorised(
        open_=bars.open,
        close=bars.close,
        times=times,
        target=signal.compute(bars).position,
        settings=backtest_settings(SETTINGS),
        bar_seconds=_bar_seconds(times),
    )


def _event_driven(frame: pd.DataFrame):
    """The live Technical class, unchanged."""
    bars = OHLCV.from_frame(frame)
    times = _times(frame)
    settings = backtest_settings(SETTINGS)
    strategy = trading_strategy_build(
        kind="technical",
        symbol="BTCUSDT",
        params={
            "signal": "ma_cross",
            "quantity": "1",
            "fast_period": 10,
            "slow_period": 30,
            "allow_short": False,
        },
        settings=settings,
        bar_seconds=_bar_seconds(times),
    )
    assert strategy.__class__.__module__ == "trading.strategies.technical"
    return run_event_driven(
        strategy=strategy,
        open_=bars.open,
        high=bars.high,
        low=bars.low,
        close=bars.close,
        volume=bars.volume,
        times=times,
        bar_seconds=_bar_seconds(times),
        settings=settings,
    )


def _goog() -> pd.DataFrame:
    return GOOG.rename(columns=str.lower)


@pytest.fixture(scope="module", params=["btc_15m", "goog_daily"])
def data_set(request, sample):
    frame = sample if request.param == "btc_15m" else _goog()
    return request.param, frame, _backtesting_py(frame)


@pytest.mark.parametrize("engine", [_vectorised, _event_driven], ids=["vectorised", "event"])
def test_both_engines_match_backtesting_py_strictly_on_two_real_calendars(data_set, engine):
    name, frame, stats = data_set
    theirs = stats["_trades"]  # closed trades; the open one is on the strategy
    still_open = stats["_strategy"].trades
    ours = engine(frame)
    t = ours.trades
    closed = t.closed
    assert closed.sum() == len(theirs) > 20, name
    np.testing.assert_array_equal(t.entry_bar[closed], theirs["EntryBar"].to_numpy())
    np.testing.assert_array_equal(t.exit_bar[closed], theirs["ExitBar"].to_numpy())
    np.testing.assert_array_equal(t.entry_bar[~closed], [tr.entry_bar for tr in still_open])
    assert (t.side == 1).all() and (theirs["Size"] > 0).all()  # long/flat
    np.testing.assert_allclose(t.entry_price[closed], theirs["EntryPrice"], rtol=1e-11)
    np.testing.assert_allclose(t.exit_price[closed], theirs["ExitPrice"], rtol=1e-11)
    np.testing.assert_allclose(t.units[closed], theirs["Size"], rtol=1e-9)
    final = ours.metrics["final_equity"]
    assert abs(final / stats["Equity Final [$]"] - 1) < 1e-9, (name, final)
    np.testing.assert_allclose(ours.equity, stats["_equity_curve"]["Equity"], rtol=1e-9)


def test_the_two_calendars_differ_and_annualisation_follows_each(data_set):
    name, frame, _ = data_set
    metrics = _vectorised(frame).metrics
    if name == "btc_15m":
        # Every day, around the clock: 96 * 365, less the sample's missing bars (~3 %).
        assert metrics["periods_per_year"] == pytest.approx(96 * 365, rel=0.05)
    else:
        # A stock's trading days.
        assert 245 < metrics["periods_per_year"] < 255
