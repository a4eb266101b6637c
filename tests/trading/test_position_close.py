"""Closing a position by hand closes the strategies' shares of it on their own books, so
they know (docs/trading.md: "Manual trades and strategy books")."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchanges.base import OrderRequest
from tests.factories import StrategyConfigFactory
from trading.models import Order, OrderSource, OrderStatus, Position, StrategyPosition
from trading.services.orders import SendNow
from trading.services.positions import position_close, position_close_plan
from trading.services.tick import tick_run

pytestmark = pytest.mark.django_db


def tick(paper, manager):
    return tick_run(symbol="BTCUSDT", exchange=paper, manager=manager, submit=SendNow(paper))


@pytest.fixture
def twap_book(paper, manager, clock):
    """A TWAP that bought 0.004 BTC on its book, and 0.002 the trader bought by hand."""
    strategy = StrategyConfigFactory(
        name="twap-btc",
        kind="twap",
        symbol="BTCUSDT",
        params={"side": "BUY", "total_quantity": "0.004", "slices": 2, "interval_seconds": 10},
    )
    tick(paper, manager)
    clock.advance(10)
    tick(paper, manager)
    from trading.services.orders import order_place
    from trading.strategies.base import OrderIntent

    order_place(
        intent=OrderIntent(key="", symbol="BTCUSDT", side="BUY", quantity=D("0.002")),
        exchange=paper,
        source=OrderSource.API,
    )
    return strategy


def test_closing_a_position_closes_each_strategys_share_on_its_book_and_the_rest(
    paper, manager, clock, twap_book
):
    position = Position.objects.get(symbol="BTCUSDT")
    assert position.quantity == D("0.006")
    plan = position_close_plan(position=position)
    assert [(leg.strategy, leg.side, leg.quantity) for leg in plan] == [
        (twap_book, "SELL", D("0.004")),
        (None, "SELL", D("0.002")),
    ]

    orders = position_close(position=position, exchange=paper, by="trader")

    assert [(o.strategy_id, o.status, o.reduce_only, o.quantity) for o in orders] == [
        (twap_book.pk, OrderStatus.FILLED, True, D("0.004")),
        (None, OrderStatus.FILLED, True, D("0.002")),
    ]
    assert orders[0].intent_key.startswith("manual-close-")
    assert orders[0].reason == "position closed by trader: twap-btc's share"
    assert Position.objects.get(symbol="BTCUSDT").quantity == 0
    book = StrategyPosition.objects.get(strategy=twap_book)
    assert book.quantity == 0
    assert book.realized_pnl < 0  # bought at the ask, sold at the bid, fees on both
    assert paper.fetch_open_orders("BTCUSDT") == []


def test_closing_a_flat_position_is_refused(paper, twap_book):
    position = Position.objects.get(symbol="BTCUSDT")
    position_close(position=position, exchange=paper, by="trader")
    with pytest.raises(Exception, match="already flat"):
        position_close(position=position, exchange=paper, by="trader")


def test_a_close_never_sends_more_than_the_account_holds(paper, twap_book):
    # The exchange's position is smaller than the strategy's book (sold elsewhere).
    paper.create_order(
        OrderRequest(
            symbol="BTCUSDT",
            side="SELL",
            order_type="MARKET",
            quantity=D("0.005"),
            client_order_id="sold-elsewhere",
        )
    )
    Position.objects.filter(symbol="BTCUSDT").update(quantity=D("0.001"))
    position = Position.objects.get(symbol="BTCUSDT")
    [leg] = position_close_plan(position=position)
    assert (leg.strategy, leg.quantity) == (twap_book, D("0.001"))


def test_a_strategy_short_on_the_symbol_keeps_its_book_when_a_long_is_closed(paper, twap_book):
    short = StrategyConfigFactory(name="short-one", symbol="BTCUSDT", is_active=False)
    StrategyPosition.objects.create(
        strategy=short, exchange="paper", symbol="BTCUSDT", quantity=D("-0.001")
    )
    plan = position_close_plan(position=Position.objects.get(symbol="BTCUSDT"))
    assert short not in [leg.strategy for leg in plan]


def test_the_api_closes_a_position_and_says_which_orders_it_sent(
    paper, twap_book, settings, monkeypatch, admin_user
):
    from rest_framework.test import APIClient

    monkeypatch.setattr("trading.api.views.portfolio.exchange_for", lambda *a, **k: paper)
    api = APIClient()
    api.force_authenticate(admin_user)
    position = Position.objects.get(symbol="BTCUSDT")
    response = api.post(f"/api/positions/{position.pk}/close", format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert [(o["strategy"], o["status"], D(o["quantity"])) for o in body["orders"]] == [
        (twap_book.pk, "filled", D("0.004")),
        (None, "filled", D("0.002")),
    ]
    assert Position.objects.get(symbol="BTCUSDT").quantity == 0
    assert Order.objects.filter(reduce_only=True).count() == 2

    again = api.post(f"/api/positions/{position.pk}/close", format="json")
    assert again.status_code == 409


def test_the_overview_close_button_shows_what_it_will_send_and_closes(
    paper, twap_book, client, user, monkeypatch
):
    monkeypatch.setattr("exchanges.registry.get_exchange", lambda *a, **k: paper)
    client.force_login(user)
    position = Position.objects.get(symbol="BTCUSDT")
    page = client.get("/").content.decode()
    assert f'data-position-close="{position.pk}"' in page
    plan = page[page.index("data-close-plan") : page.index("</ul>", page.index("data-close-plan"))]
    assert "SELL</span> 0.004 BTCUSDT — twap-btc's share" in plan
    assert "SELL</span> 0.002 BTCUSDT — the part no strategy holds" in plan

    response = client.post(
        f"/positions/{position.pk}/close/", headers={"Accept": "application/json"}
    )
    assert response.status_code == 200, response.json()
    assert response.json()["message"].startswith("Closing BTCUSDT: #")
    assert Position.objects.get(pk=position.pk).quantity == 0
    again = client.post(f"/positions/{position.pk}/close/", headers={"Accept": "application/json"})
    assert again.status_code == 409 and "already flat" in again.json()["error"]
