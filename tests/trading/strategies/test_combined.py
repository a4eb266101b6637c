from __future__ import annotations

from decimal import Decimal

from trading.strategies.base import ExternalSignal
from trading.strategies.twap import TWAP

from .support import build, keyed, reloaded, run, snap, update

# The Technical MA 2/3 path (see test_technical): bar 6 crosses up, bar 9 crosses down,
# then it stays below. Two snapshots a bar (at :00 and :30), both at the bar's close.
CLOSES = [10, 10, 10, 9, 8, 9, 11, 12, 12, 10, 8, 8, 8, 8]
PATH = [snap(t, CLOSES[t // 60]) for t in range(0, 60 * len(CLOSES), 30)]
UP_AT, DOWN_AT = 14, 20  # snapshot indexes of t=420 (bar 7 opens) and t=600 (bar 10)

SIGNAL = {
    "signal": "ma_cross",
    "quantity": "1",
    "bar_seconds": 60,
    "fast_period": 2,
    "slow_period": 3,
}
TWAP_EXEC = {**SIGNAL, "execution": "twap", "slices": 4, "interval_seconds": 30}


def test_combined_hands_each_position_change_to_a_twap_child():
    combined, sent = run(build("combined", TWAP_EXEC), PATH)
    assert keyed(sent) == [
        (UP_AT, "e1-slice-1", "BUY", Decimal("0.25")),
        (UP_AT + 1, "e1-slice-2", "BUY", Decimal("0.25")),
        (UP_AT + 2, "e1-slice-3", "BUY", Decimal("0.25")),
        (UP_AT + 3, "e1-slice-4", "BUY", Decimal("0.25")),
        (DOWN_AT, "e2-slice-1", "SELL", Decimal("0.25")),
        (DOWN_AT + 1, "e2-slice-2", "SELL", Decimal("0.25")),
        (DOWN_AT + 2, "e2-slice-3", "SELL", Decimal("0.25")),
        (DOWN_AT + 3, "e2-slice-4", "SELL", Decimal("0.25")),
    ]
    assert sent[0][1].reason == (
        "MA 2/3 cross up (SMA 2 10.00 > SMA 3 9.33): target 1 → TWAP slice 1/4"
    )
    assert combined.position == Decimal("0")
    assert combined.child is None  # the exit's child finished


def test_combined_hands_an_entry_to_a_vwap_child_following_its_profile():
    params = {**SIGNAL, "execution": "vwap", "volume_profile": [1, 3], "interval_seconds": 60}
    _, sent = run(build("combined", params), PATH[: DOWN_AT - 1])
    assert keyed(sent) == [
        (UP_AT, "e1-slice-1", "BUY", Decimal("0.25")),
        (UP_AT + 2, "e1-slice-2", "BUY", Decimal("0.75")),
    ]


def test_combined_hands_an_entry_to_an_iceberg_child_one_visible_order_at_a_time():
    params = {**SIGNAL, "execution": "iceberg", "visible_quantity": "0.4"}
    combined = build("combined", params)
    sent = []
    for snapshot in PATH[: UP_AT + 4]:
        intents = combined.on_market_data(snapshot)
        sent += intents
        # Only the first child is ever filled: the second stays on the book.
        if intents and intents[0].key == "e1-child-1":
            combined.on_order_update(update(intents[0], "filled"))
    assert [(i.key, i.order_type, i.price, i.quantity) for i in sent] == [
        ("e1-child-1", "LIMIT", Decimal("12"), Decimal("0.4")),
        ("e1-child-2", "LIMIT", Decimal("12"), Decimal("0.4")),
    ]
    assert combined.exposure == Decimal("0.8")


def test_an_exit_during_an_entry_retires_the_entry_child_and_sells_what_was_bought():
    # Entry slices every 60 s: three of four are filled when the exit comes at t=600.
    params = {**TWAP_EXEC, "interval_seconds": 60}
    combined, sent = run(build("combined", params), PATH[: DOWN_AT + 1])
    assert keyed(sent) == [
        (UP_AT, "e1-slice-1", "BUY", Decimal("0.25")),
        (UP_AT + 2, "e1-slice-2", "BUY", Decimal("0.25")),
        (UP_AT + 4, "e1-slice-3", "BUY", Decimal("0.25")),
        # e1-slice-4 never goes out: the exit's child works 0.75 in 4 slices.
        (DOWN_AT, "e2-slice-1", "SELL", Decimal("0.1875")),
    ]
    assert combined.child.total == Decimal("0.75")


def test_combined_keeps_a_live_order_of_a_retired_child_in_its_exposure():
    params = {**TWAP_EXEC, "interval_seconds": 60}
    combined = build("combined", params)
    live = []
    for snapshot in PATH[: DOWN_AT + 1]:
        for intent in combined.on_market_data(snapshot):
            if intent.key == "e1-slice-3":
                live.append(intent)  # stays open
            else:
                combined.on_order_update(update(intent, "filled"))
    # 0.5 bought and 0.25 still working when the exit came: the exit sells the 0.5 held,
    # never more (the live buy might not fill).
    assert combined.child.total == Decimal("0.5")
    # The live buy fills late: 0.5 + 0.25 - 0.125 (the exit's first slice) held, and the
    # strategy knows it.
    combined.on_order_update(update(live[0], "filled"))
    assert combined.position == Decimal("0.625")


def test_combined_embeds_the_child_state_and_resumes_a_half_done_entry():
    combined, sent = run(build("combined", TWAP_EXEC), PATH[: UP_AT + 2])
    assert [i.key for _, i in sent] == ["e1-slice-1", "e1-slice-2"]
    child_state = combined.dump_state()["child"]
    assert (child_state["entry"], child_state["kind"], child_state["state"]["slot"]) == (
        1,
        "twap",
        1,
    )
    assert child_state["params"] == {
        "side": "BUY",
        "total_quantity": "1",
        "slices": 4,
        "interval_seconds": 30,
    }
    restarted = reloaded(combined)
    assert isinstance(restarted.child, TWAP)
    [intent] = restarted.on_market_data(PATH[UP_AT + 2])
    assert (intent.key, intent.quantity) == ("e1-slice-3", Decimal("0.25"))


def test_combined_runs_the_same_when_rebuilt_from_state_before_every_call():
    params = {**TWAP_EXEC, "allow_short": True}
    _, straight = run(build("combined", params), PATH)
    _, restarted = run(build("combined", params), PATH, restart=True)
    assert keyed(restarted) == keyed(straight)
    keys = [i.key for _, i in straight]
    assert len(keys) == len(set(keys)) > 8


def test_combined_sizes_an_entry_by_an_agreeing_outside_view():
    combined = build("combined", {**TWAP_EXEC, "size_by_confidence": True})
    agree = ExternalSignal(1, Decimal("0.5"))
    sent = [i for s in PATH[: UP_AT + 1] for i in combined.on_market_data(s, signal=agree)]
    assert [(i.key, i.quantity) for i in sent] == [("e1-slice-1", Decimal("0.125"))]
    assert combined.child.total == Decimal("0.5")


def test_combined_drops_a_halted_child_and_waits_for_the_next_signal():
    combined = build("combined", TWAP_EXEC)
    sent = []
    for snapshot in PATH[: UP_AT + 6]:
        for intent in combined.on_market_data(snapshot):
            sent.append(intent.key)
            combined.on_order_update(update(intent, "rejected", "0"))
    # Three refused slices halt the TWAP child; the strategy itself goes on.
    assert sent == ["e1-slice-1", "e1-slice-2", "e1-slice-3"]
    assert combined.child is None
    assert combined.position == 0
