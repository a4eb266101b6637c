"""The Orders page's Place order (review, then send) and Cancel open orders (all, one
symbol or one strategy): the same services, guards and order manager as the API."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.factories import StrategyConfigFactory
from trading.models import Order, OrderSource, OrderStatus
from trading.services.orders import order_place
from trading.strategies.base import OrderIntent

pytestmark = pytest.mark.django_db
JSON = {"Accept": "application/json"}


@pytest.fixture
def trader(client, user):
    client.force_login(user)
    return client


def resting(exchange, symbol="BTCUSDT", strategy=None, key=""):
    bid = exchange.market_snapshot(symbol).bid
    return order_place(
        intent=OrderIntent(
            key=key,
            symbol=symbol,
            side="BUY",
            quantity=D("0.002") if symbol == "BTCUSDT" else D("0.05"),
            order_type="LIMIT",
            price=(bid * D("0.8")).quantize(D("0.1")),
        ),
        exchange=exchange,
        source=OrderSource.API,
        strategy=strategy,
    )


def test_place_order_shows_what_it_will_send_then_sends_it(trader, registry_paper):
    form = {"symbol": "BTCUSDT", "side": "BUY", "order_type": "MARKET", "quantity": "0.0025"}
    review = trader.post("/orders/place/", form, headers=JSON)
    assert review.status_code == 200
    preview = review.json()["preview"]
    mid = registry_paper.market_snapshot("BTCUSDT").mid
    # On the exchange's 0.001 step, valued at the mid; nothing sent yet.
    assert preview.startswith("BUY 0.002 BTCUSDT at market: about ")
    assert f"{(mid * D('0.002')):,.2f} USDT" in preview
    assert not Order.objects.exists()

    sent = trader.post("/orders/place/", {**form, "confirm": "true"}, headers=JSON)
    assert sent.status_code == 200, sent.json()
    order = Order.objects.get()
    assert (order.source, order.status, order.quantity) == ("api", OrderStatus.FILLED, D("0.002"))
    assert order.reason == "manual (dashboard: trader)"
    assert sent.json()["message"] == f"Order #{order.pk} BUY 0.002 BTCUSDT: filled"


def test_place_order_says_what_is_wrong_before_sending(trader, registry_paper):
    limit = {"symbol": "BTCUSDT", "side": "BUY", "order_type": "LIMIT", "quantity": "0.002"}
    response = trader.post("/orders/place/", limit, headers=JSON)
    assert response.status_code == 400 and "needs a price" in response.json()["error"]
    tiny = {"symbol": "BTCUSDT", "side": "BUY", "order_type": "MARKET", "quantity": "0.001"}
    response = trader.post("/orders/place/", tiny, headers=JSON)
    assert response.status_code == 400
    assert response.json()["error"].startswith("Would be refused:")
    assert "notional" in response.json()["error"]
    unknown = {**tiny, "symbol": "SOLUSDT", "quantity": "1"}
    assert trader.post("/orders/place/", unknown, headers=JSON).status_code == 400
    assert not Order.objects.exists()


def test_a_placed_order_refused_by_a_risk_guard_says_so(trader, registry_paper):
    from trading.services.risk import kill_switch_engage

    kill_switch_engage(reason="drill", exchange=registry_paper)
    form = {"symbol": "BTCUSDT", "side": "BUY", "order_type": "MARKET", "quantity": "0.002"}
    sent = trader.post("/orders/place/", {**form, "confirm": "true"}, headers=JSON)
    order = Order.objects.get()
    assert (order.status, order.error_code) == (OrderStatus.REJECTED, "risk.kill_switch")
    assert "rejected" in sent.json()["message"] and "drill" in sent.json()["message"]


def test_cancel_open_orders_by_symbol_by_strategy_or_all(trader, registry_paper):
    strategy = StrategyConfigFactory(name="eth-maker", symbol="ETHUSDT", is_active=False)
    btc = [resting(registry_paper), resting(registry_paper)]
    eth = resting(registry_paper, "ETHUSDT", strategy, "manual-e1")
    manual_eth = resting(registry_paper, "ETHUSDT")

    page = trader.get("/orders/").content.decode()
    assert '<option value="symbol:BTCUSDT">BTCUSDT (2)</option>' in page
    assert f'<option value="strategy:{strategy.pk}">eth-maker (1)</option>' in page
    assert '<option value="all">All working orders (4)</option>' in page

    response = trader.post("/orders/cancel-open/", {"scope": "symbol:BTCUSDT"}, headers=JSON)
    assert response.json()["canceled"] == 2
    assert {o.status for o in Order.objects.filter(pk__in=[b.pk for b in btc])} == {"canceled"}
    assert Order.objects.get(pk=eth.pk).status == OrderStatus.OPEN

    trader.post("/orders/cancel-open/", {"scope": f"strategy:{strategy.pk}"}, headers=JSON)
    assert Order.objects.get(pk=eth.pk).status == OrderStatus.CANCELED
    assert Order.objects.get(pk=manual_eth.pk).status == OrderStatus.OPEN

    trader.post("/orders/cancel-open/", {"scope": "all"}, headers=JSON)
    assert Order.objects.get(pk=manual_eth.pk).status == OrderStatus.CANCELED
    assert registry_paper.fetch_open_orders("ETHUSDT") == []
    # Who asked, for each order and for each request, is in the audit trail.
    from trading.models import AuditEvent

    events = AuditEvent.objects.order_by("id")
    assert [(e.action, e.target) for e in events if e.action == "orders.cancel_all"] == [
        ("orders.cancel_all", "BTCUSDT"),
        ("orders.cancel_all", f"strategy {strategy.pk}"),
        ("orders.cancel_all", "all symbols"),
    ]
    cancels = events.filter(action="order.cancel")
    assert sorted(e.target for e in cancels) == sorted(
        f"order {o.pk}" for o in [*btc, eth, manual_eth]
    )
    assert {(e.actor_name, e.after["status"]) for e in cancels} == {("trader", "canceled")}
    bad = trader.post("/orders/cancel-open/", {"scope": "everything"}, headers=JSON)
    assert bad.status_code == 400
