"""The event-driven engine: live strategy classes, per-bar snapshots, next-open fills."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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
from xquant.errors import ValidationError

TECH = {
    "signal": "ma_cross",
    "quantity": "1",
    "fast_period": 10,
    "slow_period": 30,
    "bar_seconds": 60,
}

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
        settings=backtest_settings(
            {"fee_rate": 0, "spread_bps": 0, "sizing": "strategy", **settings}
        ),
        snapshot_volume=snapshot_volume,
    )
    return strategy, result


def buy(key, qty="1", **kw):
    return OrderIntent(key, "BTCUSDT", "BUY", Decimal(qty), **kw)


def sell(key, qty="1", **kw):
    return OrderIntent(key, "BTCUSDT", "SELL", Decimal(qty), **kw)


def test_each_bar_gives_an_opening_snapshot_and_a_last_one_at_the_close():
    strategy, _ = run_script({}, spread_bps=10)
    (opening, signal), (last, _) = strategy.seen[0], strategy.seen[1]
    # 100 -/+ 0.05 % half spread = 99.95 / 100.05, at the bar's open time.
    assert (opening.bid, opening.ask) == (Decimal("99.95"), Decimal("100.05"))
    assert opening.timestamp == datetime.fromtimestamp(1_700_000_000, UTC)
    # 100.5 -/+ 0.05 % = 100.44975 / 100.55025 → outward to the cent grid, 1 ms before
    # the close (the next bar's open time).
    assert (last.bid, last.ask) == (Decimal("100.44"), Decimal("100.56"))
    assert last.timestamp == datetime.fromtimestamp(1_700_000_060, UTC) - timedelta(milliseconds=1)
    # Like the live bookTicker snapshots, no volume unless asked for.
    assert last.volume is None and last.symbol == "BTCUSDT" and signal is None
    assert len(strategy.seen) == 2 * 6


def test_snapshot_volume_is_the_bar_volume_on_its_last_snapshot_when_asked_for():
    strategy, _ = run_script({}, snapshot_volume=True)
    assert [s.volume for s, _ in strategy.seen] == [
        Decimal(v) for b in (1, 2, 3, 4, 5, 6) for v in (0, b)
    ]


def test_market_intent_at_a_bars_last_snapshot_fills_at_the_next_open_and_is_reported():
    # Snapshot 3 is bar 1's last, snapshot 7 bar 3's.
    strategy, result = run_script({3: [buy("a")], 7: [sell("b")]}, fee_rate=0.001)
    assert [
        (seen, u.key, u.status, u.filled_quantity, u.average_price) for seen, u in strategy.updates
    ] == [
        (3, "a", "filled", Decimal("1"), Decimal("102.00")),  # told before bar 2's snapshots
        (7, "b", "filled", Decimal("1"), Decimal("104.00")),
    ]
    np.testing.assert_array_equal(result.trades.entry_bar, [2])
    np.testing.assert_array_equal(result.trades.exit_bar, [4])
    assert result.trades.pnl[0] == pytest.approx(2 - 0.102 - 0.104)
    # Equity marked at each close: long 1 from bar 2's open at 102.
    np.testing.assert_allclose(
        result.equity, 10_000 + np.array([0, 0, 0.5 - 0.102, 1.5 - 0.102, 2 - 0.206, 2 - 0.206])
    )


def test_market_intent_at_a_bars_opening_snapshot_fills_at_that_same_open():
    # Live, a strategy acts on the first snapshot after a bar's close and fills seconds
    # later at about the next bar's open: snapshot 4 is bar 2's opening one.
    strategy, result = run_script({4: [buy("a")]})
    assert [(seen, u.average_price) for seen, u in strategy.updates] == [(4, Decimal("102.00"))]
    np.testing.assert_array_equal(result.trades.entry_bar, [2])


def test_limit_buy_fills_only_when_a_later_bar_trades_through_it():
    # Placed at bar 0's last snapshot (101.5); bar 1 opens at 101 and trades down to 100:
    # filled during bar 1, after its opening snapshot (2) and before its last one.
    strategy, result = run_script({1: [buy("l", order_type="LIMIT", price=Decimal("100.50"))]})
    assert [(seen, u.status) for seen, u in strategy.updates] == [(1, "open"), (2, "filled")]
    assert strategy.updates[1][1].average_price == Decimal("100.50")
    np.testing.assert_array_equal(result.trades.entry_bar, [1])


def test_limit_that_the_market_opens_through_fills_at_the_better_open():
    strategy, _ = run_script({5: [sell("s", order_type="LIMIT", price=Decimal("102.00"))]})
    # Bar 3 opens at 103, above the limit: the sell gets 103.
    assert strategy.updates[-1][1].average_price == Decimal("103.00")


def test_limit_never_reached_stays_open():
    strategy, result = run_script({1: [buy("far", order_type="LIMIT", price=Decimal("50"))]})
    assert [u.status for _, u in strategy.updates] == ["open"]
    assert len(result.trades) == 0
    assert result.metrics["final_equity"] == 10_000


def test_slippage_moves_market_fills_against_the_trader_on_the_tick_grid():
    strategy, _ = run_script({1: [buy("a")], 3: [sell("b")]}, slippage_bps=10)
    prices = [u.average_price for _, u in strategy.updates]
    assert prices == [Decimal("101.11"), Decimal("101.89")]  # 101.101 up, 101.898 down


def test_reduce_only_intent_is_clipped_to_the_position_and_refused_when_flat():
    strategy, result = run_script(
        {
            1: [buy("a", "1")],
            3: [sell("b", "5", reduce_only=True)],
            5: [sell("c", reduce_only=True)],
        }
    )
    statuses = [(u.key, u.status, u.filled_quantity) for _, u in strategy.updates]
    assert statuses == [("a", "filled", 1), ("b", "filled", 1), ("c", "rejected", 0)]
    assert result.held[-1] == 0


def test_an_intent_key_is_never_executed_twice():
    strategy, result = run_script({1: [buy("same")], 3: [buy("same")]})
    assert [u.key for _, u in strategy.updates] == ["same"]
    assert result.held[-1] == 1


def test_reversal_in_one_order_closes_one_trade_and_opens_the_next():
    _, result = run_script({1: [buy("a")], 5: [sell("b", "2")]}, fee_rate=0.001)
    t = result.trades
    np.testing.assert_array_equal(t.entry_bar, [1, 3])
    np.testing.assert_array_equal(t.exit_bar, [3, -1])
    np.testing.assert_array_equal(t.side, [1, -1])
    assert t.pnl[0] == pytest.approx(103 - 101 - 0.101 - 0.103)
    assert result.metrics["trade_count"] == 1


def test_fraction_sizing_trades_that_share_of_equity_not_the_strategys_quantity():
    # The strategy asks for 1 and hears 1 back; the engine trades half the equity, fee
    # inside: units * 101 * (1 + fee) = 0.5 * 10,000.
    strategy, result = run_script(
        {1: [buy("a")], 5: [sell("b", "2")]}, fee_rate=0.001, sizing="fraction", fraction=0.5
    )
    assert [u.filled_quantity for _, u in strategy.updates] == [Decimal(1), Decimal(2)]
    long_units = 5_000 / (101 * 1.001)
    cash = 10_000 - 5_000 + long_units * 103 * (1 - 0.001)
    np.testing.assert_allclose(result.trades.units, [long_units, 0.5 * cash / (103 * 1.001)])
    np.testing.assert_allclose(
        result.equity[3], cash - 0.5 * cash / 1.001 * 0.001 - 0.5 * cash / (103 * 1.001) * 0.5
    )


def test_fixed_sizing_trades_the_settings_quantity():
    _, result = run_script({1: [buy("a")], 5: [sell("b", "2")]}, sizing="fixed", quantity=3)
    np.testing.assert_allclose(result.trades.units, [3, 3])
    assert result.held[-1] == -1


def test_strategy_sizing_trades_the_strategys_own_quantities():
    _, result = run_script({1: [buy("a", "2")]}, sizing="strategy")
    np.testing.assert_allclose(result.trades.units, [2])


def test_sizing_that_an_execution_algorithm_cannot_take_is_refused_with_the_reason():
    from prediction.backtest.event_driven import event_driven_sizing_check

    settings = backtest_settings({"sizing": "fraction", "fraction": 0.5})
    with pytest.raises(ValidationError, match="cannot be applied to the twap strategy"):
        event_driven_sizing_check(kind="twap", settings=settings)
    event_driven_sizing_check(kind="twap", settings=backtest_settings({"sizing": "strategy"}))


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


SAMPLE_SETTINGS = {
    "initial_capital": 1_000_000,
    "fee_rate": 0.0004,
    "sizing": "fixed",
    "quantity": 1,
    "spread_bps": 0,
    "tick_size": 1e-7,
}


def _event(strategy, sample, bars, settings):
    return run_event_driven(
        strategy=strategy,
        open_=bars.open,
        high=bars.high,
        low=bars.low,
        close=bars.close,
        volume=bars.volume,
        times=frame_times(sample),
        bar_seconds=900,
        settings=settings,
    )


def _vector(params, sample, bars, settings):
    signal = signal_strategy_build("trend_following", {"ma_type": "sma", **params})
    return run_vectorised(
        open_=bars.open,
        close=bars.close,
        times=frame_times(sample),
        target=signal.compute(bars).position,
        settings=settings,
        bar_seconds=900,
    )


def _assert_same_trades(event, vector):
    assert len(event.trades) == len(vector.trades) > 100
    np.testing.assert_array_equal(event.trades.entry_bar, vector.trades.entry_bar)
    np.testing.assert_array_equal(event.trades.exit_bar, vector.trades.exit_bar)
    np.testing.assert_array_equal(event.trades.side, vector.trades.side)
    np.testing.assert_allclose(event.equity, vector.equity, rtol=1e-9)


def test_live_strategy_class_reproduces_the_vectorised_signal_backtest_on_real_candles(
    sample, sample_bars
):
    """Same SMA(10)/SMA(30) state rule through both engines: identical trades and equity."""
    settings = backtest_settings(SAMPLE_SETTINGS)
    strategy = TinyMaCross(symbol="BTCUSDT", params={**TECH, "bar_seconds": 900})
    event = _event(strategy, sample, sample_bars, settings)
    vector = _vector({"fast": 10, "slow": 30, "rule": "state"}, sample, sample_bars, settings)
    assert strategy.snapshots == 2 * len(sample_bars.close)
    _assert_same_trades(event, vector)
    assert event.metrics["sharpe"] == pytest.approx(vector.metrics["sharpe"], rel=1e-6)
    assert len(strategy.updates) == strategy.seq and all(
        u.status == "filled" for u in strategy.updates
    )


@pytest.mark.parametrize("allow_short", [False, True])
@pytest.mark.parametrize(
    "sizing", [{"sizing": "fixed", "quantity": 1}, {"sizing": "fraction", "fraction": 1}]
)
def test_live_technical_strategy_trades_the_vectorised_cross_rule_on_the_same_bars(
    sample, sample_bars, allow_short, sizing
):
    """The real Technical class (trading.strategies.technical), unchanged: a cross on
    candle i's close fills at candle i+1's open, as the vectorised rule's does."""
    from prediction.backtest.runner import trading_strategy_build

    settings = backtest_settings({**SAMPLE_SETTINGS, **sizing})
    strategy = trading_strategy_build(
        kind="technical",
        symbol="BTCUSDT",
        params={**TECH, "quantity": "0.5", "allow_short": allow_short, "bar_seconds": 900},
        settings=settings,
        bar_seconds=900,
    )
    assert strategy.__class__.__module__ == "trading.strategies.technical"
    event = _event(strategy, sample, sample_bars, settings)
    vector = _vector(
        {"fast": 10, "slow": 30, "allow_short": allow_short}, sample, sample_bars, settings
    )
    _assert_same_trades(event, vector)
    # It heard about every fill, in its own quantity.
    held = event.held[-1]
    assert strategy.position == (Decimal("0.5") * held if allow_short or held else 0)


def test_results_do_not_depend_on_the_chunks_the_quotes_are_built_in(sample, sample_bars):
    """Quotes are built a chunk at a time, an opening quote sharing the last close's
    Decimals when the bar opens where the last one closed; chunk edges change nothing."""
    from prediction.backtest.runner import trading_strategy_build

    settings = backtest_settings({**SAMPLE_SETTINGS, "spread_bps": 1, "tick_size": 0.01})
    b = sample_bars
    runs = []
    for every in (len(b.close), 1_000, 37):
        strategy = trading_strategy_build(
            kind="technical",
            symbol="BTCUSDT",
            params={**TECH, "allow_short": True, "bar_seconds": 900},
            settings=settings,
            bar_seconds=900,
        )
        runs.append(
            run_event_driven(
                strategy=strategy,
                open_=b.open,
                high=b.high,
                low=b.low,
                close=b.close,
                volume=b.volume,
                times=frame_times(sample),
                bar_seconds=900,
                settings=settings,
                progress_every=every,
            )
        )
    assert len(runs[0].trades) > 100
    for other in runs[1:]:
        np.testing.assert_array_equal(other.trades.entry_bar, runs[0].trades.entry_bar)
        np.testing.assert_array_equal(other.equity, runs[0].equity)
