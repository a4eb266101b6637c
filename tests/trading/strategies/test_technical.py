from __future__ import annotations

from decimal import Decimal

import pytest

from trading.strategies.base import NO_INTENTS, ExternalSignal
from trading.strategies.technical import Technical

from .support import at, build, keyed, minute_bars, reloaded, rules, run, snap, update

MA = {"signal": "ma_cross", "quantity": "1", "bar_seconds": 60, "fast_period": 2, "slow_period": 3}
RSI = {"signal": "rsi", "quantity": "1", "bar_seconds": 60, "rsi_period": 3}

# One bar a minute; bar k closes when snapshot k+1 (the first of bar k+1) arrives.
#
#  bar  close  SMA2   SMA3    relation
#   2    10    10     10      equal (first bar with both SMAs)
#   3     9    9.5    9.667   below  -> cross down (flat already: nothing to do)
#   4     8    8.5    9       below
#   5     9    8.5    8.667   below
#   6    11    10     9.333   above  -> cross up: BUY at snapshot 7
#   7    12    11.5   10.667  above
#   8    12    12     11.667  above
#   9    10    11     11.333  below  -> cross down: SELL at snapshot 10
#  10     8    (closes only with a snapshot of bar 11)
MA_CLOSES = [10, 10, 10, 9, 8, 9, 11, 12, 12, 10, 8]


def test_ma_cross_fires_on_the_bar_where_the_fast_sma_crosses_the_slow_one():
    technical, sent = run(build("technical", MA), minute_bars(MA_CLOSES))
    assert keyed(sent) == [
        (7, "order-1", "BUY", Decimal("1")),
        (10, "order-2", "SELL", Decimal("1")),
    ]
    entry, exit_ = (intent for _, intent in sent)
    assert entry.reason == "MA 2/3 cross up (SMA 2 10.00 > SMA 3 9.33): target 1"
    assert exit_.reason == "MA 2/3 cross down (SMA 2 11.00 < SMA 3 11.33): target 0"
    assert (entry.order_type, entry.reduce_only, entry.position_side) == ("MARKET", False, "BOTH")
    assert technical.position == Decimal("0")


def test_ma_cross_bar_close_is_the_last_mid_of_the_bar():
    # Same closes, but three snapshots per bar with a spread; only the last mid of each
    # bar counts, so the signals come on the same bars (at the first snapshot of bar 7
    # and of bar 10).
    path = []
    for bar, close in enumerate(MA_CLOSES):
        path += [
            snap(60 * bar, close + 5, close + 7),  # mid close + 6
            snap(60 * bar + 20, close - 3, close - 1),  # mid close - 2
            snap(60 * bar + 59.9, Decimal(close) - Decimal("0.5"), Decimal(close) + Decimal("0.5")),
        ]
    _, sent = run(build("technical", MA), path)
    assert [(i, intent.side) for i, intent in sent] == [(21, "BUY"), (30, "SELL")]
    assert [path[i].timestamp for i, _ in sent] == [at(420), at(600)]


def test_ma_cross_equal_smas_are_not_a_cross():
    # Equal SMAs are neither above nor below: the cross is the bar that goes strictly above.
    #  bar  close  SMA2  SMA3
    #   2    10    10    10      equal
    #   3    10    10    10      equal
    #   4    11    10.5  10.333  above -> cross up: BUY at snapshot 5
    _, sent = run(build("technical", MA), minute_bars([10, 10, 10, 10, 11, 11]))
    assert [(i, intent.side) for i, intent in sent] == [(5, "BUY")]


def test_ma_cross_with_allow_short_flips_through_zero_with_one_order():
    _, sent = run(build("technical", {**MA, "allow_short": True}), minute_bars(MA_CLOSES))
    # Bar 3 crosses down from flat: short 1. Bar 6: from -1 to +1. Bar 9: from +1 to -1.
    assert keyed(sent) == [
        (4, "order-1", "SELL", Decimal("1")),
        (7, "order-2", "BUY", Decimal("2")),
        (10, "order-3", "SELL", Decimal("2")),
    ]


def test_technical_orders_only_the_difference_to_its_target_from_its_own_fills():
    technical = build("technical", MA)
    path = minute_bars(MA_CLOSES)
    for snapshot in path[:8]:
        intents = technical.on_market_data(snapshot)
    [entry] = intents
    technical.on_order_update(update(entry, "partially_filled", "0.4"))
    technical.on_order_update(update(entry, "canceled", "0.4"))
    assert technical.position == Decimal("0.4")
    for snapshot in path[8:11]:
        intents = technical.on_market_data(snapshot)
    assert [(i.side, i.quantity) for i in intents] == [("SELL", Decimal("0.4"))]


def test_technical_never_stacks_a_repeated_entry_while_the_first_is_working_or_filled():
    # RSI dips below 30 twice without going above 70 in between (bars 4 and 7, see the
    # RSI table below with bar 7 closing at 7 instead of 9).
    technical = build("technical", RSI)
    sent = []
    for snapshot in minute_bars([10, 9, 8, 9, 8, 7, 8, 7, 7]):
        sent += technical.on_market_data(snapshot)  # never filled: still working
    assert [(i.key, i.quantity) for i in sent] == [("order-1", Decimal("1"))]
    technical.on_order_update(update(sent[0], "filled"))
    assert technical.position == Decimal("1")


def test_an_exit_while_the_entry_is_still_live_sells_only_what_was_bought():
    technical = build("technical", MA)
    path = minute_bars(MA_CLOSES)
    sent = [i for s in path[:8] for i in technical.on_market_data(s)]
    technical.on_order_update(update(sent[0], "partially_filled", "0.3"))  # 0.7 still live
    [exit_] = [i for s in path[8:] for i in technical.on_market_data(s)]
    assert (exit_.side, exit_.quantity) == ("SELL", Decimal("0.3"))
    # The rest of the entry fills after all: the strategy holds it and knows it.
    technical.on_order_update(update(sent[0], "filled"))
    technical.on_order_update(update(exit_, "filled"))
    assert technical.position == Decimal("0.7")


def test_a_refused_entry_is_not_retried_until_the_next_signal():
    technical = build("technical", MA)
    # Bar 11 closes at 13: SMA2 10.5 > SMA3 10.33, a cross up again (at snapshot 12).
    path = minute_bars([*MA_CLOSES, 13, 13])
    sent = []
    for snapshot in path:
        for intent in technical.on_market_data(snapshot):
            sent.append(intent)
            technical.on_order_update(update(intent, "rejected", "0"))
    # Up at bar 6 (refused, and not sent again on bars 7 and 8), down at bar 9 (flat:
    # nothing), up at bar 11.
    assert [(i.key, i.side) for i in sent] == [("order-1", "BUY"), ("order-2", "BUY")]
    assert technical.position == 0


# RSI(3), Wilder. Changes of 1 each bar, so avg gain + avg loss stays 1 and RSI = 100 * G.
#
#  bar  close  change  avg gain G                 RSI
#   1     9     -1
#   2     8     -1
#   3     9     +1     1/3 (seed: mean)           33.3   between
#   4     8     -1     (1/3 * 2 + 0)/3 = 2/9      22.2   < 30 -> BUY at snapshot 5
#   5     7     -1     4/27                       14.8   still below: nothing new
#   6     8     +1     (8/27 + 1)/3 = 35/81       43.2   between
#   7     9     +1     151/243                    62.1   between
#   8    10     +1     545/729                    74.8   > 70 -> SELL at snapshot 9
RSI_CLOSES = [10, 9, 8, 9, 8, 7, 8, 9, 10, 10]


def test_rsi_fires_on_the_bar_where_it_crosses_each_threshold():
    technical = build("technical", RSI)
    fired, rsi_by_bar = [], {}
    for i, snapshot in enumerate(minute_bars(RSI_CLOSES)):
        for intent in technical.on_market_data(snapshot):
            fired.append((i, intent.side, intent.reason))
            technical.on_order_update(update(intent, "filled"))
        rsi_by_bar[i - 1] = technical.rsi()
    assert fired == [
        (5, "BUY", "RSI 3 22.22 < 30: target 1"),
        (9, "SELL", "RSI 3 74.76 > 70: target 0"),
    ]
    expected = {3: 100 / 3, 4: 200 / 9, 5: 400 / 27, 6: 3500 / 81, 7: 15100 / 243, 8: 54500 / 729}
    for bar, value in expected.items():
        assert rsi_by_bar[bar] == pytest.approx(value, abs=1e-9)
    assert rsi_by_bar[2] is None  # fewer than rsi_period changes


def test_rsi_above_overbought_goes_short_when_allowed():
    _, sent = run(build("technical", {**RSI, "allow_short": True}), minute_bars(RSI_CLOSES))
    assert keyed(sent) == [
        (5, "order-1", "BUY", Decimal("1")),
        (9, "order-2", "SELL", Decimal("2")),
    ]


def test_size_by_confidence_scales_an_entry_the_outside_view_agrees_with():
    params = {**MA, "quantity": "0.01", "size_by_confidence": True}
    technical = build("technical", params, symbol_rules=rules(step="0.001"))
    path = minute_bars(MA_CLOSES)
    up, down = ExternalSignal(1, Decimal("0.33")), ExternalSignal(-1, Decimal("0.9"))
    intents = [technical.on_market_data(s, signal=up) for s in path[:8]]
    # 0.01 * 0.33 = 0.0033 -> 0.003 on the step grid.
    [entry] = intents[7]
    assert (entry.side, entry.quantity) == ("BUY", Decimal("0.003"))
    assert entry.reason.endswith("outside view +1 at 0.33: target 0.003")
    technical.on_order_update(update(entry, "filled"))
    # The exit is never scaled: all of the position goes.
    exits = [technical.on_market_data(s, signal=down) for s in path[8:]]
    assert [(i.side, i.quantity) for batch in exits for i in batch] == [("SELL", Decimal("0.003"))]


def test_size_by_confidence_skips_an_entry_the_outside_view_disagrees_with():
    technical = build("technical", {**MA, "size_by_confidence": True})
    against = ExternalSignal(-1, Decimal("0.8"))
    sent = [i for s in minute_bars(MA_CLOSES) for i in technical.on_market_data(s, signal=against)]
    assert sent == []


def test_size_by_confidence_with_no_view_or_no_signal_keeps_the_full_quantity():
    technical = build("technical", {**MA, "size_by_confidence": True})
    no_view = ExternalSignal(0, Decimal("0.5"))
    path = minute_bars(MA_CLOSES)
    assert [i.quantity for s in path[:8] for i in technical.on_market_data(s, signal=no_view)] == [
        Decimal("1")
    ]


def test_without_size_by_confidence_an_outside_signal_changes_nothing():
    technical = build("technical", MA)
    half = ExternalSignal(1, Decimal("0.5"))
    sent = []
    for snapshot in minute_bars(MA_CLOSES):
        for intent in technical.on_market_data(snapshot, signal=half):
            sent.append(intent)
            technical.on_order_update(update(intent, "filled"))
    assert [(i.side, i.quantity) for i in sent] == [("BUY", Decimal("1")), ("SELL", Decimal("1"))]


def test_snapshots_inside_a_bar_return_the_shared_empty_result():
    technical = build("technical", MA)
    assert technical.on_market_data(snap(0, 100)) is NO_INTENTS
    assert technical.on_market_data(snap(30, 101)) is NO_INTENTS
    assert technical.on_market_data(snap(59.999, 102)) is NO_INTENTS


def test_a_gap_in_the_feed_closes_one_bar_and_skips_the_empty_ones():
    technical = build("technical", MA)
    for snapshot in (snap(0, 10), snap(30, 11), snap(600, 12)):
        technical.on_market_data(snapshot)
    # Bar [0, 60) closed at 11; no bars for 60..600; the bar [600, 660) is open at 12.
    state = technical.dump_state()
    assert state["bars"] == {"end": at(660).isoformat(), "close": "12"}
    assert state["ma"]["closes"] == ["11", "0", "0"] and state["ma"]["filled"] == 1


def test_bars_are_aligned_to_multiples_of_bar_seconds():
    technical = build("technical", {**MA, "bar_seconds": 300})
    technical.on_market_data(snap(437, 10))  # 00:07:17 belongs to [00:05, 00:10)
    assert technical.dump_state()["bars"]["end"] == at(600).isoformat()


@pytest.mark.parametrize("params", [MA, RSI], ids=["ma_cross", "rsi"])
def test_technical_resumes_its_bars_and_indicators_from_saved_state(params):
    # Three snapshots a bar, rebuilt from JSON state before every call: same orders as
    # one uninterrupted instance.
    closes = MA_CLOSES if params is MA else RSI_CLOSES
    path = [snap(60 * b + s, c + s // 20) for b, c in enumerate(closes) for s in (0, 20, 40)]
    _, straight = run(build("technical", params), path)
    _, restarted = run(build("technical", params), path, restart=True)
    assert straight and keyed(restarted) == keyed(straight)
    resumed = reloaded(build("technical", params))
    assert isinstance(resumed, Technical)


def test_a_position_a_trader_closed_on_its_book_is_not_sold_again_at_the_next_exit():
    """The reported bug: a long-only strategy, closed by hand, sold again at its exit
    and left the account short. A close booked to it (key manual-…) moves its position."""
    from trading.strategies.base import OrderUpdate

    technical = build("technical", MA)
    path = minute_bars(MA_CLOSES)
    for snapshot in path[:8]:
        intents = technical.on_market_data(snapshot)
    [entry] = intents
    technical.on_order_update(update(entry, "filled"))
    assert technical.position == Decimal("1")

    close = "manual-close-abc"
    technical.on_order_update(OrderUpdate(close, "SELL", "partially_filled", Decimal("0.6")))
    technical = reloaded(technical)  # a restart in between keeps what was heard
    technical.on_order_update(OrderUpdate(close, "SELL", "filled", Decimal("1")))
    assert technical.position == Decimal("0")
    assert Decimal(technical.dump_state()["manual_total"]) == Decimal("-1")
    assert "manual" not in technical.dump_state()  # nothing of it is live any more

    sent = [i for snapshot in path[8:11] for i in technical.on_market_data(snapshot)]
    assert sent == [], "the cross down finds it flat already: no sell"
    assert technical.position == Decimal("0")
