"""A ticking connection fills a crossed resting order in one round trip, from the order
its book watch kept and the position it last wrote, and ends exactly where the locking
way would; when anything it kept has moved, nothing of the attempt is written and the
locking way fills it."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from exchanges.models import PaperAccount, PaperOrder, PaperPosition, PaperTrade
from tests.exchanges.conftest import order
from tests.exchanges.test_paper_book_watch import _elsewhere

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only"),
]


@pytest.fixture
def paper(paper):
    paper.ticking()
    return paper


def _long_and_a_resting_sell(paper):
    """Long 0.002 at 60000.1 (taker fee 0.04800008); a SELL 0.003 resting at 60100."""
    paper.create_order(order("buy", "BUY", "0.002"))
    paper.create_order(order("sell", "SELL", "0.003", price="60100.0"))
    assert [o.client_order_id for o in paper.fetch_open_orders("BTCUSDT")] == ["sell"]


def _account() -> PaperAccount:
    return PaperAccount.objects.get(name="test")


def _position() -> PaperPosition:
    return PaperPosition.objects.get(account_id="test", symbol="BTCUSDT")


def test_a_crossed_resting_order_fills_in_one_round_trip(paper, feed):
    _long_and_a_resting_sell(paper)
    feed.set("BTCUSDT", "60100.0", "60100.1")  # the bid reaches the sell

    with CaptureQueriesContext(connection) as queries:
        paper.market_snapshot("BTCUSDT")

    [sent] = [q["sql"] for q in queries.captured_queries]
    assert sent.startswith("BEGIN;") and sent.endswith("COMMIT")
    account = _account()
    # Closing 0.002 gains 0.002 × 99.9; the maker fee is 60100 × 0.003 × 0.0002.
    assert account.wallet_balance == D("10000") - D("0.04800008") + D("0.1998") - D("0.03606")
    assert account.order_margin == 0
    position = _position()
    assert (position.quantity, position.entry_price) == (D("-0.001"), D("60100"))
    trade = PaperTrade.objects.get(order__client_order_id="sell")
    assert (trade.price, trade.quantity, trade.fee, trade.realized_pnl, trade.is_maker) == (
        D("60100"),
        D("0.003"),
        D("0.03606"),
        D("0.1998"),
        True,
    )
    assert PaperOrder.objects.get(client_order_id="sell").status == "FILLED"
    assert paper.fetch_open_orders("BTCUSDT") == []
    [fill] = paper.fetch_fills("BTCUSDT", exchange_order_id=str(trade.order_id))
    assert fill.trade_id == str(trade.pk)


def test_another_symbols_reserved_margin_stays_reserved(paper, feed):
    paper.create_order(order("eth-rest", "BUY", "0.1", price="2900.00", symbol="ETHUSDT"))
    eth_margin = PaperOrder.objects.get(client_order_id="eth-rest").reserved_margin
    assert eth_margin > 0
    _long_and_a_resting_sell(paper)
    assert _account().order_margin > eth_margin  # the sell's opening part has margin too
    feed.set("BTCUSDT", "60100.0", "60100.1")

    paper.market_snapshot("BTCUSDT")

    assert _account().order_margin == eth_margin


def test_a_position_moved_by_another_connection_is_filled_the_locking_way(paper, feed):
    _long_and_a_resting_sell(paper)
    _elsewhere(paper, lambda other: other.create_order(order("more", "BUY", "0.002")))
    assert PaperOrder.objects.get(client_order_id="more").status == "FILLED"
    feed.set("BTCUSDT", "60100.0", "60100.1")

    with CaptureQueriesContext(connection) as queries:
        paper.market_snapshot("BTCUSDT")

    assert any(q["sql"] == "ROLLBACK" for q in queries.captured_queries), [
        q["sql"][:150] for q in queries.captured_queries
    ]
    position = _position()
    assert (position.quantity, position.entry_price) == (D("0.001"), D("60000.1"))
    # Two taker buys; closing 0.003 at 99.9 above the entry; one maker fee.
    assert _account().wallet_balance == (
        D("10000") - 2 * D("0.04800008") + D("0.2997") - D("0.03606")
    )
    assert PaperTrade.objects.filter(order__client_order_id="sell").count() == 1
    assert _account().order_margin == 0
