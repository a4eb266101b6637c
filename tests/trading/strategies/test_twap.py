from __future__ import annotations

from decimal import Decimal

import pytest

from trading.strategies.base import NO_INTENTS, OrderUpdate, StrategyHalted
from trading.strategies.twap import TWAP
from xquant.errors import ValidationError

from .support import build, keyed, reloaded, rules, run, snap, update

PARAMS = {"side": "BUY", "total_quantity": "1", "slices": 4, "interval_seconds": 60}


def test_twap_sends_one_slice_at_the_first_snapshot_then_one_per_interval():
    twap = build("twap", PARAMS)
    # The first snapshot (t=10) starts the clock: slices are due at 10, 70, 130, 190.
    path = [snap(s, 100) for s in (10, 40, 69, 70, 129, 130, 131, 190, 250, 400)]
    twap, sent = run(twap, path)
    assert keyed(sent) == [
        (0, "slice-1", "BUY", Decimal("0.25")),
        (3, "slice-2", "BUY", Decimal("0.25")),
        (5, "slice-3", "BUY", Decimal("0.25")),
        (7, "slice-4", "BUY", Decimal("0.25")),
    ]
    assert [intent.reason for _, intent in sent] == [f"TWAP slice {i}/4" for i in (1, 2, 3, 4)]
    assert all(intent.order_type == "MARKET" and intent.price is None for _, intent in sent)
    assert sum(intent.quantity for _, intent in sent) == Decimal("1")
    assert twap.finished
    assert twap.executed == Decimal("1")


def test_twap_slice_is_due_exactly_at_start_plus_interval_not_a_microsecond_before():
    twap = build("twap", PARAMS)
    assert len(twap.on_market_data(snap(0, 100))) == 1
    assert twap.on_market_data(snap(59.999999, 100)) is NO_INTENTS
    assert [i.key for i in twap.on_market_data(snap(60, 100))] == ["slice-2"]


def test_twap_without_rules_splits_exactly_and_the_last_slice_takes_the_remainder():
    twap = build("twap", {**PARAMS, "slices": 3})
    _, sent = run(twap, [snap(60 * i, 100) for i in range(3)])
    third = Decimal(1) / 3  # 0.3333333333333333333333333333 (28 digits)
    quantities = [intent.quantity for _, intent in sent]
    assert quantities == [third, third, Decimal(1) - 2 * third]
    assert sum(quantities) == Decimal(1)


def test_twap_with_rules_puts_every_slice_on_the_step_grid_and_sums_exactly():
    # Cumulative targets 1/3, 2/3, 1 rounded down to 0.001: 0.333, 0.666, 1.000.
    twap = build("twap", {**PARAMS, "slices": 3}, symbol_rules=rules(step="0.001"))
    _, sent = run(twap, [snap(60 * i, 100) for i in range(3)])
    assert [intent.quantity for _, intent in sent] == [
        Decimal("0.333"),
        Decimal("0.333"),
        Decimal("0.334"),
    ]
    assert sum(intent.quantity for _, intent in sent) == Decimal("1")


def test_twap_with_rules_defers_a_slice_below_the_minimum_quantity_to_the_next_slot():
    # 0.02 in 4 slices is 0.005 each, below min_qty 0.01: targets 0.005, 0.01, 0.015, 0.02
    # so the order goes out every second slot with 0.01.
    twap = build(
        "twap",
        {**PARAMS, "total_quantity": "0.02"},
        symbol_rules=rules(step="0.001", min_qty="0.01"),
    )
    _, sent = run(twap, [snap(60 * i, 100) for i in range(4)])
    assert keyed(sent) == [
        (1, "slice-2", "BUY", Decimal("0.010")),
        (3, "slice-4", "BUY", Decimal("0.010")),
    ]


def test_twap_refuses_a_parent_quantity_off_the_step_grid():
    with pytest.raises(ValidationError) as excinfo:
        build("twap", {**PARAMS, "total_quantity": "1.0005"}, symbol_rules=rules(step="0.001"))
    assert excinfo.value.extra["fields"]["total_quantity"] == [
        "total_quantity 1.0005 is not a multiple of the step size 0.001 for BTCUSDT; "
        "use e.g. 1.000."
    ]


def test_twap_resumes_a_half_done_execution_from_saved_state_instead_of_starting_over():
    twap = build("twap", PARAMS)
    twap, sent = run(twap, [snap(0, 100), snap(60, 100)])
    assert [i.key for _, i in sent] == ["slice-1", "slice-2"]

    restarted = reloaded(twap)  # a new process, from StrategyConfig.state
    assert restarted.executed == Decimal("0.5")
    assert not restarted.finished
    assert restarted.on_market_data(snap(119, 100)) is NO_INTENTS
    intents = restarted.on_market_data(snap(120, 100))
    assert [(i.key, i.quantity) for i in intents] == [("slice-3", Decimal("0.25"))]


def test_twap_merges_slots_missed_during_a_restart_into_one_catch_up_slice():
    twap = build("twap", PARAMS)
    twap, _ = run(twap, [snap(0, 100)])
    # Down for three intervals: slots 2, 3 and 4 are all due at t=190.
    restarted = reloaded(twap)
    intents = restarted.on_market_data(snap(190, 100))
    assert [(i.key, i.quantity, i.reason) for i in intents] == [
        ("slice-4", Decimal("0.75"), "TWAP slices 2-4/4 (caught up)")
    ]
    restarted.on_order_update(update(intents[0], "filled"))
    assert restarted.finished
    assert restarted.on_market_data(snap(250, 100)) is NO_INTENTS


def test_twap_rolls_a_rejected_slice_into_the_next_one():
    twap = build("twap", PARAMS)
    first = twap.on_market_data(snap(0, 100))
    twap.on_order_update(update(first[0], "pending", "0"))
    twap.on_order_update(update(first[0], "rejected", "0"))
    second = twap.on_market_data(snap(60, 100))
    assert [(i.key, i.quantity) for i in second] == [("slice-2", Decimal("0.5"))]


def test_twap_rolls_the_unfilled_part_of_a_canceled_slice_into_the_next_one():
    twap = build("twap", PARAMS)
    first = twap.on_market_data(snap(0, 100))
    twap.on_order_update(update(first[0], "partially_filled", "0.1"))
    twap.on_order_update(update(first[0], "canceled", "0.1"))
    assert twap.executed == Decimal("0.1")
    second = twap.on_market_data(snap(60, 100))
    assert [i.quantity for i in second] == [Decimal("0.4")]


def test_twap_resends_a_refused_last_slice_once_per_interval_until_done():
    twap = build("twap", PARAMS)
    twap, _ = run(twap, [snap(60 * i, 100) for i in range(3)])
    last = twap.on_market_data(snap(180, 100))
    twap.on_order_update(update(last[0], "expired", "0.05"))
    assert twap.on_market_data(snap(200, 100)) is NO_INTENTS  # not before the next slot
    retry = twap.on_market_data(snap(240, 100))
    assert [(i.key, i.quantity) for i in retry] == [("slice-4-r1", Decimal("0.20"))]
    assert retry[0].reason == "TWAP catch-up 1 after slice 4/4"
    twap.on_order_update(update(retry[0], "filled"))
    assert twap.finished
    assert twap.executed == Decimal("1")


def test_twap_never_over_executes_while_limit_slices_rest_unfilled():
    twap = build("twap", {**PARAMS, "order_type": "LIMIT", "limit_offset_bps": "10"})
    sent = []
    for i in range(4):
        sent += twap.on_market_data(snap(60 * i, 100))  # none of them fills yet
    assert [i.quantity for i in sent] == [Decimal("0.25")] * 4
    # Long after the schedule nothing more goes out: all of the parent is working.
    assert twap.on_market_data(snap(600, 100)) is NO_INTENTS
    for intent in sent:
        twap.on_order_update(update(intent, "filled"))
    assert twap.finished
    assert twap.on_market_data(snap(660, 100)) is NO_INTENTS


def test_twap_limit_slices_are_priced_better_than_mid_by_the_offset():
    buy = build("twap", {**PARAMS, "order_type": "LIMIT", "limit_offset_bps": "10"})
    sell = build(
        "twap", {**PARAMS, "side": "SELL", "order_type": "LIMIT", "limit_offset_bps": "10"}
    )
    # mid 100: a buy 10 bps below, a sell 10 bps above.
    assert buy.on_market_data(snap(0, "99.9", "100.1"))[0].price == Decimal("99.900")
    assert sell.on_market_data(snap(0, "99.9", "100.1"))[0].price == Decimal("100.100")
    assert buy.on_market_data(snap(0, "99.9", "100.1")) is NO_INTENTS


def test_twap_limit_price_is_rounded_to_the_tick_never_more_aggressive():
    # mid 100.05 less 10 bps = 99.94995 -> a buy rounds down to 99.94;
    # plus 10 bps = 100.15005 -> a sell rounds up to 100.16.
    limit = {**PARAMS, "order_type": "LIMIT", "limit_offset_bps": "10"}
    buy = build("twap", limit, symbol_rules=rules(tick="0.01"))
    sell = build("twap", {**limit, "side": "SELL"}, symbol_rules=rules(tick="0.01"))
    assert buy.on_market_data(snap(0, "100", "100.1"))[0].price == Decimal("99.94")
    assert sell.on_market_data(snap(0, "100", "100.1"))[0].price == Decimal("100.16")


def test_twap_places_children_with_the_configured_side_position_side_and_reduce_only():
    twap = build("twap", {**PARAMS, "side": "SELL", "reduce_only": True})
    [intent] = twap.on_market_data(snap(0, 100))
    assert (intent.symbol, intent.side, intent.position_side, intent.reduce_only) == (
        "BTCUSDT",
        "SELL",
        "BOTH",
        True,
    )


def test_twap_halts_after_three_children_in_a_row_end_without_a_fill():
    twap = build("twap", PARAMS)
    for i in range(3):
        [intent] = twap.on_market_data(snap(60 * i, 100))
        twap.on_order_update(update(intent, "rejected", "0"))
    with pytest.raises(StrategyHalted, match="3 child orders in a row ended without any fill"):
        twap.on_market_data(snap(180, 100))
    # The halt survives a restart: an operator has to look at it.
    with pytest.raises(StrategyHalted):
        reloaded(twap).on_market_data(snap(240, 100))


def test_twap_a_fill_resets_the_refusal_count():
    twap = build("twap", {**PARAMS, "slices": 6})
    outcomes = ["rejected", "rejected", "filled", "rejected", "rejected"]
    for i, status in enumerate(outcomes):
        [intent] = twap.on_market_data(snap(60 * i, 100))
        twap.on_order_update(update(intent, status))
    assert twap.halt_reason is None
    assert twap.on_market_data(snap(300, 100))  # still working


def test_twap_ignores_updates_about_orders_it_did_not_send_and_after_a_terminal_status():
    twap = build("twap", PARAMS)
    [intent] = twap.on_market_data(snap(0, 100))
    twap.on_order_update(update(intent, "filled"))
    twap.on_order_update(update(intent, "filled", "0.5"))  # a late duplicate
    twap.on_order_update(update(intent, "canceled", "0"))
    twap.on_order_update(OrderUpdate("manual-1", "BUY", "filled", Decimal("3")))
    assert twap.executed == Decimal("0.25")


def test_twap_class_is_registered_under_its_kind():
    assert isinstance(build("twap", PARAMS), TWAP)
