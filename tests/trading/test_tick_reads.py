"""What a tick reads before running a symbol's strategies, and the order news it marks
consumed afterwards."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.factories import OrderFactory, StrategyConfigFactory
from trading.models import Order, OrderStatus, StrategyStatus
from trading.selectors import risk_limits_get
from trading.selectors.tick import tick_strategies
from trading.services.tick_records import order_news_consumed

pytestmark = pytest.mark.django_db


def engage_kill_switch(reason):
    limits = risk_limits_get()
    limits.kill_switch_engaged, limits.kill_switch_reason = True, reason
    limits.save()


def test_tick_strategies_lists_the_active_healthy_ones_in_name_order_with_their_versions():
    b = StrategyConfigFactory(name="b", symbol="BTCUSDT")
    a = StrategyConfigFactory(name="a", symbol="BTCUSDT", state_version=4)
    StrategyConfigFactory(name="off", symbol="BTCUSDT", is_active=False)
    StrategyConfigFactory(name="broken", symbol="BTCUSDT", status=StrategyStatus.ERRORED)
    StrategyConfigFactory(name="other", symbol="ETHUSDT")
    read = tick_strategies(symbol="BTCUSDT")
    a.refresh_from_db()
    b.refresh_from_db()
    assert read.versions == [
        (a.pk, a.updated_at, 4),
        (b.pk, b.updated_at, b.state_version),
    ]
    assert (read.news_pending, read.paused) == (False, None)


def test_tick_strategies_tells_order_news_of_its_strategies_only():
    mine = StrategyConfigFactory(name="mine", symbol="BTCUSDT")
    off = StrategyConfigFactory(name="off", symbol="BTCUSDT", is_active=False)
    OrderFactory(strategy=off, intent_key="k", strategy_update_pending=True)
    assert tick_strategies(symbol="BTCUSDT").news_pending is False
    OrderFactory(strategy=mine, intent_key="k", strategy_update_pending=True)
    assert tick_strategies(symbol="BTCUSDT").news_pending is True


def test_tick_strategies_says_why_trading_is_paused_when_the_kill_switch_is_engaged():
    StrategyConfigFactory(name="a", symbol="BTCUSDT")
    engage_kill_switch("exchange incident")
    assert tick_strategies(symbol="BTCUSDT").paused == "kill switch engaged: exchange incident"
    # Without strategies there is nothing to pause.
    idle = tick_strategies(symbol="ETHUSDT")
    assert (idle.versions, idle.paused) == ([], None)


def test_order_news_consumed_clears_what_was_fed_unless_the_order_moved_on_since():
    strategy = StrategyConfigFactory(name="a", symbol="BTCUSDT")
    fed_as_is, moved_on, untouched = (
        OrderFactory(
            strategy=strategy,
            intent_key=key,
            status=OrderStatus.OPEN,
            filled_quantity=D("0"),
            strategy_update_pending=True,
        )
        for key in ("a", "b", "c")
    )
    # `moved_on` filled after its news was fed: its next tick feeds the newer state.
    Order.objects.filter(pk=moved_on.pk).update(
        status=OrderStatus.FILLED, filled_quantity=D("0.010")
    )
    order_news_consumed(
        fed=[
            (fed_as_is.pk, OrderStatus.OPEN, D("0")),
            (moved_on.pk, OrderStatus.OPEN, D("0")),
        ]
    )
    pending = dict(Order.objects.values_list("pk", "strategy_update_pending"))
    assert pending == {fed_as_is.pk: False, moved_on.pk: True, untouched.pk: True}
