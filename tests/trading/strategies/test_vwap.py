from __future__ import annotations

from decimal import Decimal

from trading.strategies.base import NO_INTENTS

from .support import build, keyed, reloaded, rules, run, snap, update

PARAMS = {
    "side": "SELL",
    "total_quantity": "6",
    "volume_profile": [1, 2, 3],
    "interval_seconds": 300,
}


def test_vwap_slices_follow_the_volume_profile_one_per_interval():
    # slice i = 6 * profile[i] / 6: 1, 2, 3 at t = 0, 300, 600.
    vwap = build("vwap", PARAMS)
    vwap, sent = run(vwap, [snap(s, 100) for s in (0, 299, 300, 599, 600, 900)])
    assert keyed(sent) == [
        (0, "slice-1", "SELL", Decimal("1")),
        (2, "slice-2", "SELL", Decimal("2")),
        (4, "slice-3", "SELL", Decimal("3")),
    ]
    assert sent[1][1].reason == "VWAP slice 2/3"
    assert vwap.finished


def test_vwap_skips_an_interval_with_zero_volume_and_the_last_slice_takes_the_remainder():
    # 2 * [3, 0, 2, 5] / 10 = 0.6, 0, 0.4, 1.0
    vwap = build("vwap", {**PARAMS, "total_quantity": "2", "volume_profile": [3, 0, 2, 5]})
    _, sent = run(vwap, [snap(300 * i, 100) for i in range(4)])
    assert [(i, intent.key, intent.quantity) for i, intent in sent] == [
        (0, "slice-1", Decimal("0.6")),
        (2, "slice-3", Decimal("0.4")),
        (3, "slice-4", Decimal("1.0")),
    ]


def test_vwap_with_rules_rounds_each_slice_to_the_step_and_sums_exactly():
    # 1 * [1, 1, 1] / 3: cumulative 0.333.., 0.666.. -> 0.33, 0.66, then the remainder.
    vwap = build(
        "vwap",
        {**PARAMS, "total_quantity": "1", "volume_profile": [1, 1, 1]},
        symbol_rules=rules(step="0.01"),
    )
    _, sent = run(vwap, [snap(300 * i, 100) for i in range(3)])
    assert [intent.quantity for _, intent in sent] == [
        Decimal("0.33"),
        Decimal("0.33"),
        Decimal("0.34"),
    ]


def test_vwap_rolls_a_rejected_slice_into_an_otherwise_empty_interval():
    vwap = build("vwap", {**PARAMS, "total_quantity": "2", "volume_profile": [3, 0, 2, 5]})
    [first] = vwap.on_market_data(snap(0, 100))
    vwap.on_order_update(update(first, "rejected", "0"))
    # The zero-volume interval now carries the refused 0.6.
    assert [(i.key, i.quantity) for i in vwap.on_market_data(snap(300, 100))] == [
        ("slice-2", Decimal("0.6"))
    ]


def test_vwap_resumes_from_saved_state():
    vwap = build("vwap", PARAMS)
    vwap, _ = run(vwap, [snap(0, 100)])
    restarted = reloaded(vwap)
    assert restarted.on_market_data(snap(100, 100)) is NO_INTENTS
    assert [(i.key, i.quantity) for i in restarted.on_market_data(snap(300, 100))] == [
        ("slice-2", Decimal("2"))
    ]
