"""xQuant's vectorised backtester against backtesting.py 0.6.6 on the bundled real candles.

Same strategy (SMA(10)/SMA(30), long above, short below), same conventions: decisions at
the close, fills at the next bar's open, 0.04 % commission on every fill, one BTC per
trade, the open trade at the end left open and marked to the last close.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from backtesting import Backtest, Strategy

from prediction.backtest.config import backtest_settings
from prediction.backtest.vectorised import run_vectorised
from prediction.indicators import OHLCV
from prediction.selectors import candle_frame, frame_times
from prediction.signals import signal_strategy_build

pytestmark = pytest.mark.django_db

FEE = 0.0004
CASH = 1_000_000


class SmaCross(Strategy):
    def init(self):
        close = pd.Series(self.data.Close)
        # Plain arrays rather than self.I(): backtesting.py would otherwise skip the
        # indicators' warm-up plus one more bar before its first decision, while xQuant
        # decides as soon as both averages exist.
        self.fast = close.rolling(10).mean().to_numpy()
        self.slow = close.rolling(30).mean().to_numpy()

    def next(self):
        i = len(self.data) - 1
        if self.fast[i] > self.slow[i] and not self.position.is_long:
            self.position.close()
            self.buy(size=1)
        elif self.fast[i] < self.slow[i] and not self.position.is_short:
            self.position.close()
            self.sell(size=1)


def test_sma_cross_on_real_candles_gives_the_same_trades_and_equity_as_backtesting_py():
    frame = candle_frame(symbol="BTCUSDT", timeframe="15m")
    assert len(frame) == 8_686  # the whole bundled sample, loaded on demand

    bars = OHLCV.from_frame(frame)
    signal = signal_strategy_build(
        "trend_following",
        {"ma_type": "sma", "fast": 10, "slow": 30, "allow_short": True, "rule": "state"},
    ).compute(bars)
    ours = run_vectorised(
        open_=bars.open,
        close=bars.close,
        times=frame_times(frame),
        target=signal.position,
        settings=backtest_settings(
            {"initial_capital": CASH, "fee_rate": FEE, "sizing": "fixed", "quantity": 1}
        ),
        bar_seconds=900,
    )

    data = frame.rename(columns=str.capitalize)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "some trades remain open": intended
        stats = Backtest(data, SmaCross, cash=CASH, commission=FEE, finalize_trades=False).run()
    theirs = stats["_trades"]

    closed = ours.trades.closed
    assert closed.sum() == len(theirs) > 300
    np.testing.assert_array_equal(ours.trades.entry_bar[closed], theirs["EntryBar"].to_numpy())
    np.testing.assert_array_equal(ours.trades.exit_bar[closed], theirs["ExitBar"].to_numpy())
    np.testing.assert_array_equal(ours.trades.side[closed], np.sign(theirs["Size"].to_numpy()))
    np.testing.assert_allclose(ours.trades.entry_price[closed], theirs["EntryPrice"], rtol=1e-12)
    np.testing.assert_allclose(ours.trades.exit_price[closed], theirs["ExitPrice"], rtol=1e-12)
    np.testing.assert_allclose(ours.trades.pnl[closed], theirs["PnL"], rtol=1e-9, atol=1e-6)

    final = ours.metrics["final_equity"]
    assert abs(final / stats["Equity Final [$]"] - 1) < 1e-4  # within 0.01 %
    # The whole curve, not only its end.
    np.testing.assert_allclose(ours.equity, stats["_equity_curve"]["Equity"], rtol=1e-9)
    assert ours.metrics["max_drawdown"] == pytest.approx(stats["Max. Drawdown [%]"] / 100, rel=1e-6)
    # Calendar time from the peak to the recovery, as backtesting.py measures it.
    assert (
        ours.metrics["max_drawdown_duration_seconds"]
        == stats["Max. Drawdown Duration"].total_seconds()
    )
    assert ours.metrics["exposure"] == pytest.approx(stats["Exposure Time [%]"] / 100, abs=0.01)
