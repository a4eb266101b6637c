from __future__ import annotations

from decimal import Decimal

import pytest

from trading.strategies.base import NO_INTENTS
from xquant.errors import ValidationError

from .support import build, reloaded, snap, update

SELL_STOP = {"side": "SELL", "quantity": "0.5", "trail_percent": "2", "reduce_only": True}
BUY_STOP = {"side": "BUY", "quantity": "0.5", "trail_percent": "2"}


def feed(stop, mids):
    """Index of the snapshot that fired, and the intents; asserts it fires at most once."""
    fired = []
    for i, mid in enumerate(mids):
        intents = stop.on_market_data(snap(i, mid))
        if intents:
            fired.append((i, intents))
    assert len(fired) <= 1
    return fired[0] if fired else (None, [])


def test_sell_stop_triggers_when_mid_falls_exactly_to_high_times_one_minus_trail():
    # Highest mid 105 -> stop 105 * 0.98 = 102.90.
    index, [intent] = feed(build("trailing_stop", SELL_STOP), ["100", "105", "104", "102.90"])
    assert index == 3
    assert (intent.key, intent.side, intent.quantity) == ("stop", "SELL", Decimal("0.5"))
    assert (intent.order_type, intent.price, intent.reduce_only) == ("MARKET", None, True)
    assert intent.reason == "Trailing stop 2% from high 105: mid 102.90 ≤ 102.90"


def test_sell_stop_does_not_trigger_one_tick_above_the_trailing_price():
    index, _ = feed(build("trailing_stop", SELL_STOP), ["100", "105", "102.91", "102.91"])
    assert index is None


def test_sell_stop_follows_new_highs_and_ignores_dips_above_the_stop():
    # 100 (stop 98) -> 103 (stop 100.94) -> 101 (no) -> 110 (stop 107.80) -> 107.81 (no)
    # -> 107.80 fires.
    stop = build("trailing_stop", SELL_STOP)
    index, _ = feed(stop, ["100", "103", "101", "110", "107.81", "107.80"])
    assert index == 5
    assert stop.extreme == Decimal("110")
    assert stop.stop_price == Decimal("107.80")


def test_buy_stop_tracks_the_lowest_mid_and_triggers_at_low_times_one_plus_trail():
    # Lowest 90 -> stop 90 * 1.02 = 91.80; 91.79 does not trigger, 91.80 does.
    stop = build("trailing_stop", BUY_STOP)
    index, [intent] = feed(stop, ["100", "95", "90", "91.79", "91.80"])
    assert index == 4
    assert (intent.side, intent.reduce_only) == ("BUY", False)


def test_sell_stop_waits_for_the_activation_price_before_trailing():
    # Inactive until the mid reaches 110: the 10% fall to 90 does nothing; from 110
    # the stop is 107.80.
    stop = build("trailing_stop", {**SELL_STOP, "activation_price": "110"})
    index, _ = feed(stop, ["100", "90", "109.99", "110", "108", "107.80"])
    assert index == 5


def test_buy_stop_activates_at_or_below_its_activation_price():
    stop = build("trailing_stop", {**BUY_STOP, "activation_price": "95"})
    index, _ = feed(stop, ["100", "102", "95", "96.89", "96.90"])
    # Active at 95 -> stop 96.90.
    assert index == 4


def test_stop_fires_once_and_finishes_when_its_order_fills():
    stop = build("trailing_stop", SELL_STOP)
    stop.on_market_data(snap(0, "100"))
    [intent] = stop.on_market_data(snap(1, "97"))
    for i, mid in enumerate(["96", "90", "120", "80"], start=2):
        assert stop.on_market_data(snap(i, mid)) is NO_INTENTS
    stop.on_order_update(update(intent, "filled"))
    assert stop.finished
    assert stop.on_market_data(snap(9, "50")) is NO_INTENTS


def test_stop_resends_only_the_unfilled_rest_when_its_order_is_refused():
    stop = build("trailing_stop", SELL_STOP)
    stop.on_market_data(snap(0, "100"))
    [intent] = stop.on_market_data(snap(1, "97"))
    stop.on_order_update(update(intent, "expired", "0.2"))
    [retry] = stop.on_market_data(snap(2, "97"))
    assert (retry.key, retry.quantity) == ("stop-r1", Decimal("0.3"))


def test_stop_remembers_its_high_across_a_restart():
    stop = build("trailing_stop", SELL_STOP)
    feed(stop, ["100", "105"])
    restarted = reloaded(stop)
    assert restarted.on_market_data(snap(2, "102.91")) is NO_INTENTS
    assert restarted.on_market_data(snap(3, "102.90"))[0].key == "stop"
    # ... and that it already fired.
    assert reloaded(restarted).on_market_data(snap(4, "90")) is NO_INTENTS


@pytest.mark.parametrize("trail", ["0.005", "51"])
def test_trail_percent_out_of_range_is_refused(trail):
    with pytest.raises(ValidationError, match="trail_percent"):
        build("trailing_stop", {**SELL_STOP, "trail_percent": trail})
