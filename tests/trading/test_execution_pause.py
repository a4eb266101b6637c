"""Execution algorithms and the desk's stops: the kill switch pauses a TWAP or an
iceberg (it does not halt it), release resumes the schedule where it stopped, and a risk
guard's refusals are waited out rather than counted toward a halt."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal as D

import pytest

from exchanges.base import OrderRequest
from tests.factories import StrategyConfigFactory
from trading.models import Order, OrderStatus, StrategyConfig, StrategyStatus
from trading.selectors import risk_limits_get
from trading.services.orders import SendNow
from trading.services.risk import kill_switch_engage, kill_switch_release
from trading.services.strategies import strategy_config_set_active
from trading.services.tick import tick_run
from trading.strategy_progress import strategy_progress

pytestmark = pytest.mark.django_db


def tick(paper, manager):
    return tick_run(symbol="BTCUSDT", exchange=paper, manager=manager, submit=SendNow(paper))


def twap(slices=5, interval=10):
    return StrategyConfigFactory(
        name="twap-btc",
        kind="twap",
        symbol="BTCUSDT",
        params={
            "side": "BUY",
            "total_quantity": str(D("0.002") * slices),
            "slices": slices,
            "interval_seconds": interval,
        },
    )


def progress(strategy: StrategyConfig):
    strategy.refresh_from_db()
    return strategy_progress(kind=strategy.kind, params=strategy.params, state=strategy.state)


def keys(strategy) -> list[str]:
    return list(
        Order.objects.filter(strategy=strategy).order_by("id").values_list("intent_key", flat=True)
    )


def test_kill_switch_pauses_a_running_twap_and_release_resumes_its_schedule(paper, manager, clock):
    strategy = twap()
    start = clock.now
    tick(paper, manager)
    clock.advance(10)
    tick(paper, manager)
    assert keys(strategy) == ["slice-1", "slice-2"]

    kill_switch_engage(reason="exchange incident", exchange=paper)
    for _ in range(6):  # a minute of ticks: slices 3 to 8 would have been due
        clock.advance(10)
        assert tick(paper, manager).orders == []
    strategy.refresh_from_db()
    assert (strategy.status, strategy.is_active) == (StrategyStatus.OK, True)
    assert strategy.state["paused"]["reason"] == "kill switch engaged: exchange incident"
    assert strategy.state["children"]["failures"] == 0
    paused = progress(strategy)
    assert paused.paused == "kill switch engaged: exchange incident"
    assert paused.headline.startswith("Paused · 2 of 5 slices sent · 0.004 of 0.01 executed")
    assert ("Next slice due", "when trading resumes (the schedule waits)") in [
        (item.label, item.value) for item in paused.items
    ]
    assert not Order.objects.filter(error_code="risk.kill_switch").exists()

    kill_switch_release(reason="all clear")
    clock.advance(1)
    resumed = tick(paper, manager).orders
    # The slice that was due when it paused, alone: no catch-up of the missed minute.
    assert [(o.intent_key, o.quantity, o.reason) for o in resumed] == [
        ("slice-3", D("0.002"), "TWAP slice 3/5")
    ]
    assert resumed[0].status == OrderStatus.FILLED
    after = progress(strategy)
    assert after.paused == "" and "paused" not in strategy.state
    assert strategy.state["paused_seconds"] == 51  # paused at +20 s, resumed at +71 s
    items = {item.label: item.value for item in after.items}
    assert items["Next slice due"] == start + timedelta(seconds=51 + 30)
    assert items["Time paused so far"] == "51 s"
    # Slice 3's fill is heard at the next tick: until then it is working, not executed.
    assert after.headline == "3 of 5 slices sent · 0.004 of 0.01 executed"
    assert items["Working (live child orders)"] == "0.002 in 1 order"

    # The rest keeps the interval from there, and the parent completes exactly.
    clock.advance(9)
    assert tick(paper, manager).orders == []
    clock.advance(1)
    assert [o.intent_key for o in tick(paper, manager).orders] == ["slice-4"]
    clock.advance(10)
    tick(paper, manager)
    clock.advance(10)
    tick(paper, manager)
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.FINISHED
    assert sum(o.filled_quantity for o in Order.objects.filter(strategy=strategy)) == D("0.01")


def test_kill_switch_cancels_a_resting_iceberg_child_without_counting_it_as_a_failure(
    paper, manager, clock
):
    strategy = StrategyConfigFactory(
        name="iceberg-btc",
        kind="iceberg",
        symbol="BTCUSDT",
        params={
            "side": "BUY",
            "total_quantity": "0.01",
            "visible_quantity": "0.002",
            "limit_price": "60000",
        },
    )
    tick(paper, manager)
    for round_ in range(4):  # more engagements than the halt allows failures
        kill_switch_engage(reason=f"drill {round_}", exchange=paper)
        clock.advance(5)
        tick(paper, manager)
        kill_switch_release(reason="drill over")
        clock.advance(5)
        tick(paper, manager)
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.OK
    assert strategy.state["children"]["failures"] == 0
    assert [o.status for o in Order.objects.filter(strategy=strategy).order_by("id")] == [
        OrderStatus.CANCELED
    ] * 4 + [OrderStatus.OPEN]


def test_a_twap_refused_by_a_risk_guard_keeps_its_schedule_and_does_not_halt(paper, manager, clock):
    limits = risk_limits_get()
    limits.max_order_notional = D("100")  # a 0.002 BTC slice is 130 USDT
    limits.save()
    strategy = twap(slices=5)
    for _ in range(4):
        tick(paper, manager)
        clock.advance(10)
    tick(paper, manager)
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.OK
    assert strategy.state["risk_refused"] == "risk.max_order_notional"
    # One refused order per slot, each taking what the refused ones gave back.
    refused = Order.objects.filter(strategy=strategy).order_by("id")
    assert [o.error_code for o in refused] == ["risk.max_order_notional"] * 5
    items = {i.label: i.value for i in progress(strategy).items}
    assert items["Last child refused by risk guard"] == "risk.max_order_notional"

    limits.max_order_notional = D("100000")
    limits.save()
    clock.advance(10)
    [catch_up] = tick(paper, manager).orders
    assert (catch_up.status, catch_up.quantity) == (OrderStatus.FILLED, D("0.01"))
    clock.advance(10)
    tick(paper, manager)  # hears of the fill
    strategy.refresh_from_db()
    assert "risk_refused" not in strategy.state
    assert strategy.status == StrategyStatus.FINISHED


def test_an_iceberg_refused_by_a_risk_guard_waits_before_its_next_child(paper, manager, clock):
    limits = risk_limits_get()
    limits.max_order_notional = D("100")
    limits.save()
    strategy = StrategyConfigFactory(
        name="iceberg-btc",
        kind="iceberg",
        symbol="BTCUSDT",
        params={"side": "BUY", "total_quantity": "0.01", "visible_quantity": "0.002"},
    )
    for _ in range(12):  # a minute of 5-second ticks
        tick(paper, manager)
        clock.advance(5)
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.OK
    # At 0 s, then 30 s after the refusal was heard (at 5 s): not one order per tick.
    assert Order.objects.filter(strategy=strategy).count() == 2


def test_a_halted_twap_keeps_the_state_that_says_why_and_switching_it_on_clears_the_halt(
    paper, manager, clock, caplog
):
    # Reduce-only sells with no long to reduce: the exchange refuses every one (-2022),
    # a real reason to halt.
    strategy = StrategyConfigFactory(
        name="twap-close",
        kind="twap",
        symbol="BTCUSDT",
        params={
            "side": "SELL",
            "total_quantity": "0.01",
            "slices": 5,
            "interval_seconds": 10,
            "reduce_only": True,
        },
    )
    with caplog.at_level(logging.INFO):
        for _ in range(4):
            tick(paper, manager)
            clock.advance(10)
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.ERRORED
    assert "3 child orders in a row ended without any fill" in strategy.last_error
    # The page reads what the strategy knew when it halted: 3 failures, nothing working.
    assert strategy.state["children"]["failures"] == 3
    assert strategy.state["children"]["live"] == {}
    assert progress(strategy).halted == strategy.last_error
    # Expected, and it says why: a warning, no traceback.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("halted" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)

    paper.create_order(  # now there is a long to reduce
        OrderRequest(
            symbol="BTCUSDT",
            side="BUY",
            order_type="MARKET",
            quantity=D("0.02"),
            client_order_id="long-by-hand",
        )
    )
    strategy_config_set_active(strategy=strategy, active=True)
    strategy.refresh_from_db()
    assert (strategy.status, strategy.state["halted"]) == (StrategyStatus.OK, None)
    assert strategy.state["children"]["failures"] == 0
    clock.advance(10)
    [order] = tick(paper, manager).orders
    assert order.status == OrderStatus.FILLED
