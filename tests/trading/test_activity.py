"""The Activity page: one time-ordered, filterable feed of what happened and why: orders
and their outcomes (risk refusals included), the kill switch, strategies pausing,
resuming and stopping, reconciliation findings."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchanges.base import OrderRequest
from tests.factories import StrategyConfigFactory
from trading.activity import activity_feed
from trading.models import ActivityEvent, OrderSource
from trading.services.orders import SendNow, order_place
from trading.services.reconciliation import reconcile
from trading.services.risk import kill_switch_engage, kill_switch_release
from trading.services.tick import tick_run
from trading.strategies.base import OrderIntent

pytestmark = pytest.mark.django_db


def tick(paper, manager):
    return tick_run(symbol="BTCUSDT", exchange=paper, manager=manager, submit=SendNow(paper))


@pytest.fixture
def day(paper, manager, clock):
    """A TWAP trades, the kill switch pauses it, a hand order is refused, the switch is
    released and the TWAP resumes; an order placed elsewhere is adopted."""
    StrategyConfigFactory(
        name="twap-btc",
        kind="twap",
        symbol="BTCUSDT",
        params={"side": "BUY", "total_quantity": "0.01", "slices": 5, "interval_seconds": 10},
    )
    tick(paper, manager)
    clock.advance(10)
    kill_switch_engage(reason="exchange incident (desk)", exchange=paper)
    tick(paper, manager)
    order_place(
        intent=OrderIntent(key="", symbol="ETHUSDT", side="BUY", quantity=D("0.05")),
        exchange=paper,
        source=OrderSource.API,
    )
    clock.advance(10)
    kill_switch_release(reason="all clear (desk)")
    tick(paper, manager)
    paper.create_order(
        OrderRequest(
            symbol="BTCUSDT",
            side="SELL",
            order_type="MARKET",
            quantity=D("0.002"),
            client_order_id="placed-elsewhere",
        )
    )
    clock.advance(10)
    reconcile(exchange=paper, symbols=["BTCUSDT"])


def test_the_feed_tells_the_day_in_order_and_why(day):
    items = activity_feed()
    kinds = [item.kind for item in reversed(items)]
    assert kinds[:2] == ["order", "kill_switch"]
    assert "strategy" in kinds and "risk" in kinds and "reconciliation" in kinds
    texts = [item.message for item in reversed(items)]
    assert "Kill switch engaged: exchange incident (desk)" in texts
    assert "Kill switch released: all clear (desk)" in texts
    assert "twap-btc paused: kill switch engaged: exchange incident (desk)" in texts
    assert "twap-btc resumed." in texts
    refused = next(item for item in items if item.kind == "risk")
    assert refused.level == "warning" and "risk.kill_switch" in refused.message
    assert "BUY 0.05 ETHUSDT MARKET" in refused.message
    found = next(item for item in items if item.kind == "reconciliation")
    assert found.message.startswith("Reconciliation of BTCUSDT: ")
    assert "placed-elsewhere" in found.message
    assert [item.at for item in items] == sorted((item.at for item in items), reverse=True)


def test_the_feed_filters_by_kind_symbol_and_strategy(day):
    assert {i.kind for i in activity_feed(kind="kill_switch")} == {"kill_switch"}
    assert len(activity_feed(kind="kill_switch")) == 2
    assert {i.symbol for i in activity_feed(symbol="ETHUSDT")} == {"ETHUSDT"}
    strategy = ActivityEvent.objects.filter(strategy__isnull=False).first().strategy
    assert {i.strategy_id for i in activity_feed(strategy_id=strategy.pk)} == {strategy.pk}


def test_the_activity_page_shows_and_filters_the_feed(day, client, user):
    client.force_login(user)
    page = client.get("/activity/").content.decode()
    assert 'data-kind="kill_switch" data-level="error"' in page
    assert "Kill switch engaged: exchange incident (desk)" in page
    only = client.get("/activity/?kind=risk").content.decode()
    assert 'data-kind="risk"' in only and 'data-kind="kill_switch"' not in only
