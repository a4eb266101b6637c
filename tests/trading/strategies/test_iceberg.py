from __future__ import annotations

from decimal import Decimal

from trading.strategies.base import NO_INTENTS

from .support import build, reloaded, rules, snap, update

PARAMS = {"side": "BUY", "total_quantity": "1", "visible_quantity": "0.3"}


def test_iceberg_never_shows_more_than_visible_quantity_and_one_child_at_a_time():
    iceberg = build("iceberg", PARAMS)
    shown, t = [], 0
    while not iceberg.finished:
        intents = iceberg.on_market_data(snap(t, "99", "101"))
        t += 1
        if not intents:
            continue
        [child] = intents
        shown.append(child)
        # While the child works, every snapshot (and a partial fill) shows nothing more.
        assert iceberg.on_market_data(snap(t, "99", "101")) is NO_INTENTS
        iceberg.on_order_update(update(child, "open", "0"))
        iceberg.on_order_update(update(child, "partially_filled", child.quantity / 2))
        assert iceberg.on_market_data(snap(t, "99", "101")) is NO_INTENTS
        iceberg.on_order_update(update(child, "filled"))
    assert [(c.key, c.quantity) for c in shown] == [
        ("child-1", Decimal("0.3")),
        ("child-2", Decimal("0.3")),
        ("child-3", Decimal("0.3")),
        ("child-4", Decimal("0.1")),
    ]
    assert all(c.order_type == "LIMIT" and c.price == Decimal("100") for c in shown)
    assert iceberg.executed == Decimal("1")


def test_iceberg_children_use_the_fixed_limit_price_when_set():
    iceberg = build("iceberg", {**PARAMS, "limit_price": "95.5"})
    [child] = iceberg.on_market_data(snap(0, "99", "101"))
    assert (child.order_type, child.price) == ("LIMIT", Decimal("95.5"))


def test_iceberg_mid_price_is_rounded_to_the_tick_away_from_crossing():
    # mid 100.005: a sell rounds up to 100.01, a buy down to 100.00.
    sell = build("iceberg", {**PARAMS, "side": "SELL"}, symbol_rules=rules(tick="0.01"))
    buy = build("iceberg", PARAMS, symbol_rules=rules(tick="0.01"))
    assert sell.on_market_data(snap(0, "100", "100.01"))[0].price == Decimal("100.01")
    assert buy.on_market_data(snap(0, "100", "100.01"))[0].price == Decimal("100.00")


def test_iceberg_replaces_a_rejected_child_with_a_new_key_and_the_same_quantity():
    iceberg = build("iceberg", PARAMS)
    [first] = iceberg.on_market_data(snap(0, 100))
    iceberg.on_order_update(update(first, "rejected", "0"))
    [second] = iceberg.on_market_data(snap(1, 100))
    assert (second.key, second.quantity) == ("child-2", Decimal("0.3"))


def test_iceberg_gives_back_the_unfilled_part_of_a_canceled_child():
    iceberg = build("iceberg", PARAMS)
    [first] = iceberg.on_market_data(snap(0, 100))
    iceberg.on_order_update(update(first, "canceled", "0.2"))
    [second] = iceberg.on_market_data(snap(1, 100))
    assert second.quantity == Decimal("0.3")
    iceberg.on_order_update(update(second, "filled"))
    iceberg.on_order_update(update(iceberg.on_market_data(snap(2, 100))[0], "filled"))
    # 0.2 + 0.3 + 0.3 done: the last child is the remaining 0.2, not 0.3.
    [last] = iceberg.on_market_data(snap(3, 100))
    assert last.quantity == Decimal("0.2")


def test_iceberg_after_a_restart_waits_for_the_live_child_it_already_sent():
    iceberg = build("iceberg", PARAMS)
    [first] = iceberg.on_market_data(snap(0, 100))
    restarted = reloaded(iceberg)
    assert restarted.on_market_data(snap(1, 100)) is NO_INTENTS
    restarted.on_order_update(update(first, "filled"))
    [second] = restarted.on_market_data(snap(2, 100))
    assert (second.key, second.quantity) == ("child-2", Decimal("0.3"))
    assert restarted.executed == Decimal("0.3")
