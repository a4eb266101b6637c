"""The paper exchange's cheap paths give what the full ones give: the mark price without
the book's quantities, fills of a just-filled order from memory, positions as plain rows,
and orders in two round trips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from exchanges.base import OrderState
from exchanges.market_data import ReplayFeed, SyntheticFeed
from exchanges.models import PaperPosition
from exchanges.symbols import CATALOGUE
from tests.exchanges.conftest import order, run_on_sqlite

D = Decimal
MOMENT = datetime(2026, 3, 2, 12, 0, 0, 250_000, tzinfo=UTC)


@pytest.mark.parametrize("feed_class", [SyntheticFeed, ReplayFeed])
def test_mid_price_and_bid_ask_are_the_snapshots_to_the_last_digit(feed_class):
    feed, reference = feed_class(seed=3), feed_class(seed=3)
    for symbol in [*CATALOGUE, "PEPEUSDT"]:
        for step in range(0, 40, 3):
            # Several moments within a second share the memo; the next second does not.
            at = MOMENT + timedelta(milliseconds=step * 170)
            book = reference.snapshot(symbol, at)
            mid = feed.mid_price(symbol, at)
            assert (mid, str(mid)) == (book.mid, str(book.mid))
            assert feed.bid_ask(symbol, at) == (book.bid, book.ask)


def test_mid_price_of_a_feed_that_quotes_its_own_book_is_its_snapshot_mid(feed, clock):
    # The scripted feed overrides snapshot: its book, not the spread model, is the price.
    assert feed.mid_price("BTCUSDT", clock.now) == D("60000.05")
    feed.set("BTCUSDT", "61000.0", "61000.2")  # same second, new book: nothing stale
    assert feed.mid_price("BTCUSDT", clock.now) == D("61000.1")
    assert feed.bid_ask("BTCUSDT", clock.now) == (D("61000.0"), D("61000.2"))


def test_positions_read_as_rows_equal_the_model_rows(paper, feed):
    paper.create_order(order("a", "BUY", "0.013"))
    feed.set("BTCUSDT", "60010.0", "60010.3")
    paper.create_order(order("b", "BUY", "0.007"))
    paper.create_order(order("c", "SELL", "0.02", symbol="ETHUSDT"))
    rows = paper.ledger.positions()
    for model in PaperPosition.objects.filter(account_id=paper.account_name):
        row = rows[(model.symbol, model.position_side)]
        assert (row.id, row.quantity, row.entry_price, row.realized_pnl) == (
            model.pk,
            model.quantity,
            model.entry_price,
            model.realized_pnl,
        )
    assert len(rows) == 2


def test_a_filled_order_and_its_fills_take_two_round_trips_and_its_fills_none(
    paper, feed, django_capture_on_commit_callbacks
):
    paper.create_order(order("warm-up", "BUY", "0.01"))  # the account row exists from here
    with (
        django_capture_on_commit_callbacks(execute=True),
        CaptureQueriesContext(connection) as placing,
    ):
        placed = paper.create_order(order("market", "BUY", "0.02"))
    # SAVEPOINT and RELEASE stand in for BEGIN and COMMIT inside the test's transaction.
    assert len(placing) == 4, [q["sql"] for q in placing]
    with CaptureQueriesContext(connection) as reading:
        remembered = paper.fetch_fills("BTCUSDT", exchange_order_id=placed.exchange_order_id)
    assert len(reading) == 0
    paper.ledger._fills_of_filled.clear()
    stored = paper.fetch_fills("BTCUSDT", exchange_order_id=placed.exchange_order_id)
    assert remembered == stored and len(stored) == 1
    assert [str(f.price) for f in remembered] == [str(f.price) for f in stored]
    assert stored[0].client_order_id == "market" and stored[0].quantity == D("0.02")
    assert paper.fetch_fills("ETHUSDT", exchange_order_id=placed.exchange_order_id) == []


def test_fills_of_a_resting_order_filled_here_are_remembered_too(
    paper, feed, clock, django_capture_on_commit_callbacks
):
    resting = paper.create_order(order("maker", "BUY", "0.01", price="59900.0"))
    feed.set("BTCUSDT", "59850.0", "59850.1")
    clock.advance(1)
    with (
        django_capture_on_commit_callbacks(execute=True),
        CaptureQueriesContext(connection) as matching,
    ):
        paper.market_snapshot("BTCUSDT")
    # The open orders read, then SAVEPOINT, one read and one write batch, RELEASE.
    assert len(matching) == 5, [q["sql"] for q in matching]
    with CaptureQueriesContext(connection) as reading:
        [fill] = paper.fetch_fills("BTCUSDT", exchange_order_id=resting.exchange_order_id)
    assert len(reading) == 0
    assert (fill.price, fill.is_maker, fill.fee) == (D("59900.0"), True, D("0.11980000"))
    assert paper.fetch_fills("BTCUSDT", since=clock.now) == [fill]


def test_a_fill_rolled_back_is_not_remembered(paper, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        placed = paper.create_order(order("undone", "BUY", "0.01"))
        raise RuntimeError("the caller's transaction fails")
    assert paper.ledger.fills_of_filled(placed.exchange_order_id) is None
    assert paper.fetch_fills("BTCUSDT", exchange_order_id=placed.exchange_order_id) == []


def test_resting_order_and_fills_read_budgets(paper):
    paper.create_order(order("warm-up", "BUY", "0.01"))
    with CaptureQueriesContext(connection) as placing:
        resting = paper.create_order(order("rest", "SELL", "0.01", price="61000.0"))
    assert resting.status == OrderState.NEW and len(placing) == 4
    with CaptureQueriesContext(connection) as reading:
        fills = paper.fetch_fills("BTCUSDT", since=MOMENT - timedelta(days=1))
    # The crossing check travels with the read.
    assert len(reading) == 1 and [f.client_order_id for f in fills] == ["warm-up"]


def test_open_orders_asked_right_after_a_snapshot_come_from_its_read(paper):
    paper.create_order(order("rest-1", "SELL", "0.01", price="61000.0"))
    paper.market_snapshot("BTCUSDT")
    with CaptureQueriesContext(connection) as asking:
        answered = paper.fetch_open_orders("BTCUSDT")
    assert len(asking) == 0
    assert answered == paper.fetch_open_orders("BTCUSDT")  # the database's answer
    assert [o.client_order_id for o in answered] == ["rest-1"]


def test_after_a_snapshot_that_filled_orders_the_open_orders_are_the_rest(paper, feed, clock):
    paper.create_order(order("filled", "BUY", "0.01", price="59900.0"))
    paper.create_order(order("resting", "BUY", "0.01", price="59000.0"))
    feed.set("BTCUSDT", "59850.0", "59850.1")
    clock.advance(1)
    paper.market_snapshot("BTCUSDT")
    with CaptureQueriesContext(connection) as asking:
        answered = paper.fetch_open_orders("BTCUSDT")
    assert len(asking) == 0
    assert [o.client_order_id for o in answered] == ["resting"]
    assert answered == paper.fetch_open_orders("BTCUSDT")


def test_the_snapshots_read_answers_once_and_never_after_this_instance_placed_an_order(
    paper, monkeypatch
):
    paper.market_snapshot("BTCUSDT")
    paper.create_order(order("rest-2", "SELL", "0.01", price="61000.0"))
    assert [o.client_order_id for o in paper.fetch_open_orders("BTCUSDT")] == ["rest-2"]
    paper.market_snapshot("BTCUSDT")
    paper.fetch_open_orders("BTCUSDT")
    with CaptureQueriesContext(connection) as again:
        paper.fetch_open_orders("BTCUSDT")
    assert len(again) == 1  # used once
    monkeypatch.setattr("exchanges.paper.exchange.BOOK_READ_FRESH", 0)
    paper.market_snapshot("BTCUSDT")
    with CaptureQueriesContext(connection) as late:
        paper.fetch_open_orders("BTCUSDT")
    assert len(late) == 1  # too old


SQLITE_SCENARIO = """
placed = [paper.create_order(OrderRequest("ETHUSDT", "BUY", "MARKET", D(q), f"m{n}"))
          for n, q in enumerate(["0.013", "0.07", "0.011"])]
paper.create_order(OrderRequest("ETHUSDT", "SELL", "LIMIT", D("0.05"), "tp", price=D("3000.07")))
feed.set("ETHUSDT", "3000.07", "3000.08")
clock.advance(1)
paper.market_snapshot("ETHUSDT")
remembered = [paper.fetch_fills("ETHUSDT", exchange_order_id=p.exchange_order_id) for p in placed]
paper.ledger._fills_of_filled.clear()
stored = [paper.fetch_fills("ETHUSDT", exchange_order_id=p.exchange_order_id) for p in placed]
rows = paper.ledger.positions()
model = PaperPosition.objects.get(symbol="ETHUSDT")
row = rows[("ETHUSDT", "BOTH")]
[balance] = paper.fetch_balance()
print(json.dumps({
    "same_fills": remembered == stored and all(len(f) == 1 for f in stored),
    "same_text": [str(f.fee) for [f] in remembered] == [str(f.fee) for [f] in stored],
    "aware": all(f.executed_at.tzinfo is not None for [f] in stored),
    "row": [str(row.quantity), str(row.entry_price), str(row.realized_pnl)],
    "model": [str(model.quantity), str(model.entry_price), str(model.realized_pnl)],
    "available": str(balance.available),
}))
"""


@pytest.mark.slow
def test_fast_paths_on_sqlite_read_what_the_orm_reads(tmp_path):
    result = run_on_sqlite(SQLITE_SCENARIO, tmp_path)
    assert result["same_fills"] and result["same_text"] and result["aware"]
    assert result["row"] == result["model"]
    assert result["row"][0] == "0.04400000"
