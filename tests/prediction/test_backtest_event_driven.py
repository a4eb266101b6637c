"""The event-driven engine: live strategy classes, per-bar snapshots, next-open fills."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pytest

from prediction.backtest.config import backtest_settings
from prediction.backtest.event_driven import run_event_driven
from prediction.backtest.vectorised import run_vectorised
from prediction.selectors import frame_times
from prediction.signals import signal_strategy_build
from tests.prediction.strategies import Scripted, TinyMaCross
from trading.strategies.base import ExternalSignal, OrderIntent

TECH = {"signal": "ma_cross", "quantity": "1", "fast_period": 10, "slow_period": 30}

OPEN = np.array([100.0, 101, 102, 103, 104, 105])
HIGH = np.array([101.0, 102, 103, 104, 105, 106])
LOW = np.array([99.0, 100, 101, 102, 103, 104])
CLOSE = np.array([100.5, 101.5, 102.5, 103.5, 104.5, 105.5])
VOLUME = np.array([1.0, 2, 3, 4, 5, 6])
TIMES = 1_700_000_000 + np.arange(6) * 60


def run_script(script, snapshot_volume=False, **settings):
    strategy = Scripted(script=script, symbol="BTCUSDT", params=TECH)
    result = run_event_driven(
        strategy=strategy,
        open_=OPEN,
        high=HIGH,
        low=LOW,
        close=CLOSE,
        volume=VOLUME,
        times=TIMES,
        bar_seconds=60,
        settings=backtest_settings({"fee_rate": 0, "spread_bps": 0, **settings}),
        snapshot_volume=snapshot_volume,
    )
    return strategy, result


def buy(key, qty="1", **kw):
    return OrderIntent(key, "BTCUSDT", "BUY", Decimal(qty), **kw)


def sell(key, qty="1", **kw):
    return OrderIntent(key, "BTCUSDT", "SELL", Decimal(qty), **kw)


def test_snapshot_is_the_bar_close_with_the_documented_spread_around_it():
    strategy, _ = run_script({}, spread_bps=10)
    snap, signal = strategy.seen[0]
    # 100.5 -/+ 0.05 % half spread = 100.44975 / 100.55025 → outward to the cent grid.
    assert (snap.bid, snap.ask) == (Decimal("100.44"), Decimal("100.56"))
    assert snap.timestamp == datetime.fromtimestamp(1_700_000_060, UTC)  # the bar's close
    # Like the live bookTicker snapshots, no volume unless asked for.
    assert snap.volume is None and snap.symbol == "BTCUSDT" and signal is None
    assert len(strategy.seen) == 6


def test_snapshot_volume_is_the_bar_volume_when_asked_for():
    strategy, _ = run_script({}, snapshot_volume=True)
    assert [s.volume for s, _ in strategy.seen] == [Decimal(v) for v in (1, 2, 3, 4, 5, 6)]


def test_market_intent_fills_at_the_next_bar_open_and_is_reported_back():
    strategy, result = run_script({1: [buy("a")], 3: [sell("b")]}, fee_rate=0.001)
    assert [
        (bar, u.key, u.status, u.filled_quantity, u.average_price) for bar, u in strategy.updates
    ] == [
        (1, "a", "filled", Decimal("1"), Decimal("102.00")),  # told before the snapshot of bar 2
        (3, "b", "filled", Decimal("1"), Decimal("104.00")),
    ]
    np.testing.assert_array_equal(result.trades.entry_bar, [2])
    np.testing.assert_array_equal(result.trades.exit_bar, [4])
    assert result.trades.pnl[0] == pytest.approx(2 - 0.102 - 0.104)
    # Equity marked at each close: long 1 from bar 2's open at 102.
    np.testing.assert_allclose(
        result.equity, 10_000 + np.array([0, 0, 0.5 - 0.102, 1.5 - 0.102, 2 - 0.206, 2 - 0.206])
    )


def test_limit_buy_fills_only_when_a_later_bar_trades_through_it():
    # Placed at bar 0's close (101.5); bar 1 opens at 101 and trades down to 100: filled
    # during bar 1, so the strategy hears of it before bar 1's snapshot (after snapshot 0).
    strategy, result = run_script({0: [buy("l", order_type="LIMIT", price=Decimal("100.50"))]})
    assert [(bar, u.status) for bar, u in strategy.updates] == [(0, "open"), (0, "filled")]
    assert strategy.updates[1][1].average_price == Decimal("100.50")
    np.testing.assert_array_equal(result.trades.entry_bar, [1])


def test_limit_that_the_market_opens_through_fills_at_the_better_open():
    strategy, _ = run_script({2: [sell("s", order_type="LIMIT", price=Decimal("102.00"))]})
    # Bar 3 opens at 103, above the limit: the sell gets 103.
    assert strategy.updates[-1][1].average_price == Decimal("103.00")


def test_limit_never_reached_stays_open():
    strategy, result = run_script({0: [buy("far", order_type="LIMIT", price=Decimal("50"))]})
    assert [u.status for _, u in strategy.updates] == ["open"]
    assert len(result.trades) == 0
    assert result.metrics["final_equity"] == 10_000


def test_slippage_moves_market_fills_against_the_trader_on_the_tick_grid():
    strategy, _ = run_script({0: [buy("a")], 1: [sell("b")]}, slippage_bps=10)
    prices = [u.average_price for _, u in strategy.updates]
    assert prices == [Decimal("101.11"), Decimal("101.89")]  # 101.101 up, 101.898 down


def test_reduce_only_intent_is_clipped_to_the_position_and_refused_when_flat():
    strategy, result = run_script(
        {
            0: [buy("a", "1")],
            1: [sell("b", "5", reduce_only=True)],
            2: [sell("c", reduce_only=True)],
        }
    )
    statuses = [(u.key, u.status, u.filled_quantity) for _, u in strategy.updates]
    assert statuses == [("a", "filled", 1), ("b", "filled", 1), ("c", "rejected", 0)]
    assert result.held[-1] == 0


def test_an_intent_key_is_never_executed_twice():
    strategy, result = run_script({0: [buy("same")], 1: [buy("same")]})
    assert [u.key for _, u in strategy.updates] == ["same"]
    assert result.held[-1] == 1


def test_reversal_in_one_order_closes_one_trade_and_opens_the_next():
    _, result = run_script({0: [buy("a")], 2: [sell("b", "2")]}, fee_rate=0.001)
    t = result.trades
    np.testing.assert_array_equal(t.entry_bar, [1, 3])
    np.testing.assert_array_equal(t.exit_bar, [3, -1])
    np.testing.assert_array_equal(t.side, [1, -1])
    assert t.pnl[0] == pytest.approx(103 - 101 - 0.101 - 0.103)
    assert result.metrics["trade_count"] == 1


def test_external_signal_is_passed_to_the_strategy_on_every_snapshot():
    strategy = Scripted(script={}, symbol="BTCUSDT", params=TECH)
    signal = ExternalSignal(direction=1, confidence=Decimal("0.7"))
    run_event_driven(
        strategy=strategy,
        open_=OPEN,
        high=HIGH,
        low=LOW,
        close=CLOSE,
        volume=VOLUME,
        times=TIMES,
        bar_seconds=60,
        settings=backtest_settings({}),
        signal=signal,
    )
    assert all(s is signal for _, s in strategy.seen)


def test_live_strategy_class_reproduces_the_vectorised_signal_backtest_on_real_candles(
    sample, sample_bars
):
    """Same SMA(10)/SMA(30) rule through both engines: identical trades and equity."""
    settings = backtest_settings(
        {
            "initial_capital": 1_000_000,
            "fee_rate": 0.0004,
            "sizing": "fixed",
            "quantity": 1,
            "spread_bps": 0,
            "tick_size": 1e-7,
        }
    )
    strategy = TinyMaCross(symbol="BTCUSDT", params=TECH)
    b = sample_bars
    times = frame_times(sample)
    event = run_event_driven(
        strategy=strategy,
        open_=b.open,
        high=b.high,
        low=b.low,
        close=b.close,
        volume=b.volume,
        times=times,
        bar_seconds=900,
        settings=settings,
    )
    signal = signal_strategy_build("trend_following", {"ma_type": "sma", "fast": 10, "slow": 30})
    vector = run_vectorised(
        open_=b.open,
        close=b.close,
        times=times,
        target=signal.compute(b).position,
        settings=settings,
        bar_seconds=900,
    )
    assert strategy.snapshots == len(b.close)
    assert len(event.trades) == len(vector.trades) > 300
    np.testing.assert_array_equal(event.trades.entry_bar, vector.trades.entry_bar)
    np.testing.assert_array_equal(event.trades.exit_bar, vector.trades.exit_bar)
    np.testing.assert_allclose(event.equity, vector.equity, rtol=1e-9)
    assert event.metrics["sharpe"] == pytest.approx(vector.metrics["sharpe"], rel=1e-6)
    assert len(strategy.updates) == strategy.seq and all(
        u.status == "filled" for u in strategy.updates
    )


def test_live_technical_strategy_trades_the_sma_cross_one_bar_after_the_vectorised_rule(
    sample, sample_bars
):
    """The real Technical class (trading.strategies.technical), unchanged.

    It closes a bar on the first snapshot of the next one, so with one snapshot per
    candle its decision on candle i's close is taken at candle i+1's snapshot and filled
    at candle i+2's open: the vectorised SMA rule shifted by one bar. It also waits for
    the first cross instead of entering on the first bar with both averages."""
    from prediction.backtest.runner import trading_strategy_build
    from prediction.indicators import sma

    b = sample_bars
    times = frame_times(sample)
    settings = backtest_settings(
        {
            "initial_capital": 1_000_000,
            "fee_rate": 0.0004,
            "sizing": "fixed",
            "quantity": 1,
            "spread_bps": 0,
            "tick_size": 1e-7,
        }
    )
    strategy = trading_strategy_build(
        kind="technical",
        symbol="BTCUSDT",
        params={
            "signal": "ma_cross",
            "quantity": "1",
            "fast_period": 10,
            "slow_period": 30,
            "allow_short": True,
        },
        settings=settings,
        bar_seconds=900,
    )
    assert strategy.__class__.__module__ == "trading.strategies.technical"
    event = run_event_driven(
        strategy=strategy,
        open_=b.open,
        high=b.high,
        low=b.low,
        close=b.close,
        volume=b.volume,
        times=times,
        bar_seconds=900,
        settings=settings,
    )

    side = np.nan_to_num(np.sign(sma(b.close, 10) - sma(b.close, 30)))
    first_cross = (
        np.flatnonzero((side[1:] != side[:-1]) & (side[:-1] != 0) & (side[1:] != 0))[0] + 1
    )
    side[:first_cross] = 0
    shifted = np.r_[0, side[:-1]].astype(np.int8)
    vector = run_vectorised(
        open_=b.open, close=b.close, times=times, target=shifted, settings=settings, bar_seconds=900
    )
    assert len(event.trades) == len(vector.trades) > 300
    np.testing.assert_array_equal(event.trades.entry_bar, vector.trades.entry_bar)
    np.testing.assert_array_equal(event.trades.exit_bar, vector.trades.exit_bar)
    np.testing.assert_array_equal(event.trades.side, vector.trades.side)
    np.testing.assert_allclose(event.equity, vector.equity, rtol=1e-9)
    assert strategy.position == (1 if event.held[-1] > 0 else -1)  # it heard about every fill
