"""The Strategy page reads what the real strategy classes save: run them, save their state
through JSON as StrategyConfig.state does, and check what a trader is shown."""

from __future__ import annotations

import json
from decimal import Decimal

from trading.strategy_progress import strategy_progress

from .strategies.support import build, snap, update


def saved(strategy) -> dict:
    return json.loads(json.dumps(strategy.dump_state()))


def progress_of(strategy):
    return strategy_progress(kind=strategy.kind, params=strategy.params, state=saved(strategy))


def items(progress) -> dict:
    return {item.label: item.value for item in progress.items}


def test_twap_progress_counts_slices_sent_and_quantity_executed():
    twap = build(
        "twap", {"side": "BUY", "total_quantity": "1", "slices": 4, "interval_seconds": 60}
    )
    first = twap.on_market_data(snap(0, 100))
    twap.on_order_update(update(first[0], "filled"))
    second = twap.on_market_data(snap(60, 100))
    twap.on_order_update(update(second[0], "partially_filled", "0.1"))

    progress = progress_of(twap)

    assert progress.recognised
    assert progress.headline == "2 of 4 slices sent · 0.35 of 1 executed"
    assert progress.percent == Decimal("35.0")
    shown = items(progress)
    assert shown["Slices sent"] == "2 of 4"
    assert shown["Executed"] == Decimal("0.35")
    assert shown["Working (live child orders)"] == "0.15 in 1 order"
    assert shown["Next slice due"] == snap(120, 100).timestamp


def test_twap_not_started_says_what_it_will_do():
    params = {"side": "SELL", "total_quantity": "0.02", "slices": 10, "interval_seconds": 30}
    progress = strategy_progress(kind="twap", params=params, state={})
    assert not progress.started
    assert progress.headline == "Not started: 10 slices of 0.02 due every 30 s from the first tick"
    assert progress.percent == 0


def test_halted_twap_shows_why():
    twap = build(
        "twap", {"side": "BUY", "total_quantity": "1", "slices": 2, "interval_seconds": 60}
    )
    for seconds in (0, 60, 120):
        for intent in twap.on_market_data(snap(seconds, 100)):
            twap.on_order_update(update(intent, "rejected", "0"))
    progress = progress_of(twap)
    assert "halted" in progress.halted
    assert "0 of 1 executed" in progress.halted


def test_vwap_counts_slices_of_its_volume_profile():
    vwap = build(
        "vwap",
        {
            "side": "BUY",
            "total_quantity": "1",
            "volume_profile": ["1", "3"],
            "interval_seconds": 60,
        },
    )
    vwap.on_order_update(update(vwap.on_market_data(snap(0, 100))[0], "filled"))
    progress = progress_of(vwap)
    assert progress.headline == "1 of 2 slices sent · 0.25 of 1 executed"


def test_iceberg_progress_counts_children():
    iceberg = build("iceberg", {"side": "SELL", "total_quantity": "1", "visible_quantity": "0.4"})
    iceberg.on_order_update(update(iceberg.on_market_data(snap(0, 100))[0], "filled"))
    iceberg.on_market_data(snap(1, 100))
    progress = progress_of(iceberg)
    assert progress.headline == "2 child orders sent · 0.4 of 1 executed"
    assert items(progress)["Working (live child orders)"] == "0.4 in 1 order"


def test_trailing_stop_shows_the_best_price_and_the_stop():
    stop = build("trailing_stop", {"side": "SELL", "quantity": "0.5", "trail_percent": "2"})
    for seconds, price in ((0, 100), (1, 110), (2, 108)):
        assert not stop.on_market_data(snap(seconds, price))
    progress = progress_of(stop)
    assert progress.headline == "Trailing: stop at 107.8"
    assert items(progress)["Highest mid"] == Decimal("110")
    assert items(progress)["Stop price"] == Decimal("107.80")


def test_technical_ma_shows_warm_up_then_the_trend():
    params = {
        "signal": "ma_cross",
        "quantity": "0.1",
        "bar_seconds": 60,
        "fast_period": 2,
        "slow_period": 3,
    }
    ma = build("technical", params)
    ma.on_market_data(snap(0, 100))
    ma.on_market_data(snap(60, 101))
    assert items(progress_of(ma))["Warming up"] == "1 of 3 bars"
    for minute, price in enumerate((102, 103, 104), start=2):
        ma.on_market_data(snap(60 * minute, price))
    progress = progress_of(ma)
    assert progress.headline == "MA 2/3 cross · position 0"
    assert items(progress)["Trend"] == "fast above slow"


def test_technical_rsi_shows_warm_up():
    rsi = build("technical", {"signal": "rsi", "quantity": "0.1", "rsi_period": 5})
    for minute, price in enumerate((100, 101, 102)):
        rsi.on_market_data(snap(60 * minute, price))
    assert items(progress_of(rsi))["Warming up"].endswith("of 5 price changes")


def test_state_of_an_unexpected_shape_is_not_misread():
    progress = strategy_progress(
        kind="twap",
        params={"side": "BUY", "total_quantity": "1", "slices": 2, "interval_seconds": 5},
        state={"children": "not a mapping"},
    )
    assert not progress.recognised
    assert progress.headline == "The saved state has an unexpected shape."


def test_combined_shows_the_entry_its_execution_is_working():
    params = {
        "signal": "ma_cross",
        "quantity": "1",
        "bar_seconds": 60,
        "fast_period": 2,
        "slow_period": 3,
        "execution": "twap",
        "slices": 4,
        "interval_seconds": 60,
    }
    combined = build("combined", params)
    sent = []
    for minute, price in enumerate((104, 103, 102, 101, 110, 120, 130)):
        sent += combined.on_market_data(snap(60 * minute, price))
    assert sent, "the cross up should have started an entry"
    combined.on_order_update(update(sent[0], "filled"))
    progress = progress_of(combined)
    assert "entry 1:" in progress.headline
    assert items(progress)["Entry 1 (TWAP)"].startswith(f"{len(sent)} of 4 slices sent")
    assert progress.percent == Decimal("25.0")


def test_a_technical_strategy_says_it_is_warming_up_and_for_how_long_in_its_headline():
    params = {
        "signal": "ma_cross",
        "quantity": "0.1",
        "bar_seconds": 60,
        "fast_period": 10,
        "slow_period": 30,
    }
    ma = build("technical", params)
    fresh = strategy_progress(kind="technical", params=ma.params, state={})
    assert fresh.headline.startswith(
        "Warming up: needs 30 bars, has 0 (first signal in 30 min at the earliest)"
    )
    for minute in range(13):  # 12 bars closed, the 13th forming
        ma.on_market_data(snap(60 * minute, 100 + minute))
    assert progress_of(ma).headline == (
        "Warming up: needs 30 bars, has 12 (first signal in 18 min at the earliest)"
        " · MA 10/30 cross · position 0"
    )


def test_an_rsi_strategy_counts_its_warm_up_in_bar_closes():
    rsi = build("technical", {"signal": "rsi", "quantity": "0.1", "rsi_period": 14})
    for minute, price in enumerate((100, 101, 102, 101)):
        rsi.on_market_data(snap(60 * minute, price))
    assert progress_of(rsi).headline.startswith("Warming up: needs 14 bar closes, has ")


def test_a_technical_strategy_shows_what_a_traders_close_moved():
    state = {"position": "0", "manual_total": "-0.05", "sent": 1}
    params = {"signal": "rsi", "quantity": "0.05", "rsi_period": 14, "rsi_oversold": 30}
    params["rsi_overbought"] = 70
    progress = strategy_progress(kind="technical", params=params, state=state)
    assert items(progress)["Moved by traders' closes"] == Decimal("-0.05")
