"""The per-symbol tick on the paper exchange: strategies → orders → fills → positions,
with state saved every tick, broken strategies isolated and risk refusals recorded."""

from __future__ import annotations

import logging
from decimal import Decimal as D

import pytest

from exchanges.models import PaperOrder
from tests.factories import StrategyConfigFactory
from trading.models import (
    AttemptAction,
    AttemptOutcome,
    Fill,
    Order,
    OrderStatus,
    Position,
    StrategyConfig,
    StrategyPosition,
    StrategyStatus,
    TraderHeartbeat,
)
from trading.selectors import risk_limits_get
from trading.services.orders import SendNow, order_submit
from trading.services.strategy_manager import StrategyManager
from trading.services.tick import tick_run

pytestmark = pytest.mark.django_db


def twap(name, side="BUY", total="0.004", slices=2, interval=60, symbol="BTCUSDT"):
    return StrategyConfigFactory(
        name=name,
        kind="twap",
        symbol=symbol,
        params={
            "side": side,
            "total_quantity": total,
            "slices": slices,
            "interval_seconds": interval,
        },
    )


def tick(paper, manager, symbol="BTCUSDT", submit=None, **kw):
    return tick_run(
        symbol=symbol, exchange=paper, manager=manager, submit=submit or SendNow(paper), **kw
    )


def test_a_twap_trades_slice_by_slice_and_finishes(paper, manager, clock):
    strategy = twap("twap-btc")
    first = tick(paper, manager)
    assert [(o.intent_key, o.quantity) for o in first.orders] == [("slice-1", D("0.002"))]
    order = Order.objects.get(intent_key="slice-1")
    assert (order.status, order.average_price) == (OrderStatus.FILLED, D("65001.0"))
    strategy.refresh_from_db()
    assert strategy.state_version == 1 and strategy.state

    clock.advance(30)
    assert tick(paper, manager).orders == []  # not due yet
    clock.advance(30)
    assert [o.intent_key for o in tick(paper, manager).orders] == ["slice-2"]
    clock.advance(60)
    tick(paper, manager)  # hears that slice 2 filled: done

    strategy.refresh_from_db()
    assert (strategy.status, strategy.is_active) == (StrategyStatus.FINISHED, False)
    position = Position.objects.get(symbol="BTCUSDT")
    assert (position.quantity, position.entry_price) == (D("0.004"), D("65001.0"))
    fills = Fill.objects.filter(strategy=strategy)
    assert fills.count() == 2
    assert sum(f.fee for f in fills) == D("0.10400160")  # 2 × 0.002 × 65001 × 0.0004
    heartbeat = TraderHeartbeat.objects.get(symbol="BTCUSDT")
    assert heartbeat.tick_count == 4 and heartbeat.last_mid == D("65000.5")


def test_a_restarted_process_resumes_a_half_done_twap(paper, manager, clock):
    twap("resume-me", slices=3, total="0.006")
    tick(paper, manager)
    clock.advance(60)
    # A new process: nothing in memory, everything from the database.
    result = tick(paper, StrategyManager(paper))
    assert [o.intent_key for o in result.orders] == ["slice-2"]
    assert Order.objects.filter(intent_key="slice-1").count() == 1


def test_a_strategy_that_raises_is_isolated_and_the_others_trade(paper, manager, caplog):
    # 0.0015 is off BTCUSDT's 0.001 step: the strategy refuses to build.
    broken = StrategyConfigFactory(
        name="broken",
        kind="technical",
        symbol="BTCUSDT",
        params={"signal": "ma_cross", "quantity": "0.0015", "fast_period": 2, "slow_period": 3},
    )
    healthy = twap("healthy")
    with caplog.at_level(logging.ERROR, logger="trading.strategies"):
        result = tick(paper, manager)
    assert [o.strategy_id for o in result.orders] == [healthy.pk]
    broken.refresh_from_db()
    assert broken.status == StrategyStatus.ERRORED
    assert "quantity" in broken.last_error and "0.001" in broken.last_error
    assert "broken" in caplog.text
    # It stays out until an operator switches it on again.
    tick(paper, manager)
    broken.refresh_from_db()
    assert broken.status == StrategyStatus.ERRORED
    assert not Order.objects.filter(strategy=broken).exists()


def test_a_risk_refusal_is_recorded_on_the_order_logged_published_and_told_to_the_strategy(
    paper, manager, caplog, monkeypatch, django_capture_on_commit_callbacks
):
    limits = risk_limits_get()
    limits.max_order_notional = D("100")
    limits.save()
    published = []
    monkeypatch.setattr(
        "xquant.realtime.publish", lambda group, event, data: published.append((event, data))
    )
    twap("too-big")
    with (
        caplog.at_level(logging.WARNING, logger="trading.orders"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = tick(paper, manager)
    order = result.orders[0]
    assert (order.status, order.error_code) == (OrderStatus.REJECTED, "risk.max_order_notional")
    assert (
        "order notional 130.00 USDT" in order.error_message
        and "maximum 100.00" in order.error_message
    )
    assert "risk guard max_order_notional refused" in caplog.text
    trips = [data for event, data in published if event == "risk.tripped"]
    assert trips and trips[0]["guard"] == "max_order_notional"
    assert Order.objects.get(pk=order.pk).strategy_update_pending is True
    assert paper.fetch_open_orders("BTCUSDT") == [] and not Fill.objects.exists()


def test_two_strategies_on_one_symbol_each_get_their_own_pnl(paper, manager):
    buyer = twap("a-buyer", side="BUY", total="0.002", slices=1)
    seller = twap("b-seller", side="SELL", total="0.002", slices=1)
    tick(paper, manager)
    a = StrategyPosition.objects.get(strategy=buyer)
    b = StrategyPosition.objects.get(strategy=seller)
    # A bought 0.002 at the ask 65001, B sold 0.002 at the bid 65000; taker fee 0.04 %.
    assert (a.quantity, a.entry_price, a.realized_pnl) == (D("0.002"), D("65001"), D("-0.0520008"))
    assert (b.quantity, b.entry_price, b.realized_pnl) == (D("-0.002"), D("65000"), D("-0.052"))
    account = Position.objects.get(symbol="BTCUSDT")
    # The account's buy then sell closes at a 1 USDT loss per BTC, less both fees.
    assert account.quantity == 0
    assert account.realized_pnl == D("-0.002") - D("0.0520008") - D("0.052")


def test_positions_are_marked_to_the_mid_every_tick(paper, manager, feed, clock):
    twap("marked", total="0.002", slices=1)
    tick(paper, manager)
    feed.quote("BTCUSDT", "66000.0", "66001.0")
    clock.advance(5)
    tick(paper, manager)
    position = Position.objects.get(symbol="BTCUSDT")
    assert position.mark_price == D("66000.5")
    assert position.unrealized_pnl == D("0.002") * (D("66000.5") - D("65001.0"))


def test_an_inactive_strategy_does_not_trade(paper, manager):
    StrategyConfig.objects.filter(pk=twap("off").pk).update(is_active=False)
    assert tick(paper, manager).orders == []


def test_losing_fills_count_towards_the_daily_loss_and_trip_its_guard(paper, manager, feed, clock):
    from trading.services.risk import loss_today

    limits = risk_limits_get()
    limits.daily_loss_limit = D("1")
    limits.save()
    twap("buy-high", side="BUY", total="0.002", slices=1)
    tick(paper, manager)  # bought at 65001
    feed.quote("BTCUSDT", "64000.0", "64001.0")
    clock.advance(5)
    twap("sell-low", side="SELL", total="0.002", slices=1)
    tick(paper, manager)  # sold at 64000: 0.002 × −1001 = −2.002, plus two fees
    fees = D("0.002") * (D("65001") + D("64000")) * D("0.0004")
    assert loss_today(exchange_name="paper", limits=limits) == D("2.002") + fees

    clock.advance(5)
    twap("buy-again", side="BUY", total="0.002", slices=1)
    order = tick(paper, manager).orders[0]
    assert (order.status, order.error_code) == (OrderStatus.REJECTED, "risk.daily_loss")
    assert "has reached the daily limit 1.00" in order.error_message


def test_an_order_sent_in_process_is_claimed_in_the_ticks_own_commit(paper, manager, monkeypatch):
    twap("claimed")
    rows_when_sent = []
    create_order = paper.create_order

    def create_order_seeing_the_row(request):
        row = Order.objects.filter(client_order_id=request.client_order_id)
        rows_when_sent.append(row.values_list("status", "attempt_count").get())
        return create_order(request)

    monkeypatch.setattr(paper, "create_order", create_order_seeing_the_row)
    (order,) = tick(paper, manager).orders
    assert rows_when_sent == [(OrderStatus.SUBMITTING, 1)]
    assert order.status == OrderStatus.FILLED
    assert list(order.attempts.values_list("number", "action", "outcome")) == [
        (1, AttemptAction.SUBMIT, AttemptOutcome.ACCEPTED)
    ]


def test_an_order_queued_elsewhere_is_written_pending(paper, manager):
    twap("queued")
    queued = []
    (order,) = tick(paper, manager, submit=queued.append).orders
    assert queued == [order]
    order.refresh_from_db()
    assert (order.status, order.attempt_count) == (OrderStatus.PENDING, 0)


def test_a_claimed_order_whose_process_died_before_sending_is_looked_up_then_sent_once(
    paper, manager
):
    class DiesBeforeSending(SendNow):
        def send_claimed(self, order):
            return order  # the process was killed here: committed, never sent

    twap("orphan")
    (order,) = tick(paper, manager, submit=DiesBeforeSending(paper)).orders
    order.refresh_from_db()
    assert order.status == OrderStatus.SUBMITTING
    assert not PaperOrder.objects.filter(client_order_id=order.client_order_id).exists()

    recovered = order_submit(order=order, exchange=paper, sleep=lambda seconds: None)
    assert recovered.status == OrderStatus.FILLED
    assert PaperOrder.objects.filter(client_order_id=order.client_order_id).count() == 1
    assert list(order.attempts.values_list("number", "action", "outcome")) == [
        (2, AttemptAction.LOOKUP, AttemptOutcome.NOT_FOUND),
        (3, AttemptAction.SUBMIT, AttemptOutcome.ACCEPTED),
    ]


def test_the_new_states_of_several_strategies_are_all_saved(paper, manager):
    buyer, seller = twap("buyer"), twap("seller", side="SELL", total="0.009", slices=3)
    tick(paper, manager)
    for config in (buyer, seller):
        config.refresh_from_db()
        assert config.state_version == 1
        assert config.state == manager._cache[config.pk].strategy.dump_state()
    assert buyer.state != seller.state  # each its own


def test_after_a_resting_slice_fills_the_strategy_places_the_next_in_the_same_tick(
    paper, manager, feed, clock
):
    StrategyConfigFactory(
        name="ice",
        kind="iceberg",
        symbol="BTCUSDT",
        params={"side": "SELL", "total_quantity": "0.004", "visible_quantity": "0.002"},
    )
    (first,) = tick(paper, manager).orders
    assert first.status == OrderStatus.OPEN
    feed.quote("BTCUSDT", "66000.0", "66001.0")  # the bid rises through the slice's price
    clock.advance(5)
    (second,) = tick(paper, manager).orders
    first.refresh_from_db()
    assert (first.status, first.fills.count()) == (OrderStatus.FILLED, 1)
    assert (second.side, second.quantity, second.status) == ("SELL", D("0.002"), OrderStatus.OPEN)
    # The position was marked again after the fill, at this tick's price.
    position = Position.objects.get(symbol="BTCUSDT")
    assert position.quantity == D("-0.002") and position.mark_price == D("66000.5")
