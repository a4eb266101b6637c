"""The paper exchange keeps a symbol's open orders between ticks on a ticking thread's
PostgreSQL connection, and drops them as soon as anyone may have changed them: another
connection's write once its notification arrives; this connection's own writes say what
they did, and it keeps the result."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from exchanges.paper import PaperExchange
from tests.exchanges.conftest import order

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL notifications"),
]


@pytest.fixture
def paper(paper):
    paper.ticking()  # this thread ticks, as a trading loop's does
    return paper


def _resting(cid: str, symbol: str = "BTCUSDT", price: str | None = None):
    price = price or ("50000.0" if symbol == "BTCUSDT" else "2500.00")
    return order(cid, "BUY", "0.002" if symbol == "BTCUSDT" else "0.1", price=price, symbol=symbol)


def _open(paper: PaperExchange, symbol: str = "BTCUSDT") -> list[str]:
    return [o.client_order_id for o in paper.fetch_open_orders(symbol)]


def _elsewhere(paper: PaperExchange, work) -> None:
    """`work(exchange)` on another connection (a thread has its own), as another process
    sharing the account would."""

    def run():
        try:
            work(PaperExchange(feed=paper.feed, clock=paper.clock, account=paper.account_name))
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)


def _eventually(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_open_orders_are_read_once_until_this_connection_changes_them(paper):
    paper.create_order(_resting("rest-1"))
    assert _open(paper) == ["rest-1"]
    with CaptureQueriesContext(connection) as queries:
        assert _open(paper) == ["rest-1"]
        paper.market_snapshot("BTCUSDT")
    assert queries.captured_queries == []

    paper.cancel_order("BTCUSDT", "rest-1")
    assert _open(paper) == []
    paper.create_order(_resting("rest-2"))
    assert _open(paper) == ["rest-2"]


def test_another_connections_order_is_seen_once_its_notification_arrives(paper):
    assert _open(paper) == []  # kept: nothing open
    _elsewhere(paper, lambda other: other.create_order(_resting("from-elsewhere")))
    assert _eventually(lambda: _open(paper) == ["from-elsewhere"])

    _elsewhere(paper, lambda other: other.cancel_order("BTCUSDT", "from-elsewhere"))
    assert _eventually(lambda: _open(paper) == [])


def test_a_change_to_another_symbol_keeps_what_was_read(paper):
    paper.create_order(_resting("btc-rest"))
    assert _open(paper) == ["btc-rest"]
    _elsewhere(paper, lambda other: other.create_order(_resting("eth-rest", "ETHUSDT")))
    assert _eventually(lambda: _open(paper, "ETHUSDT") == ["eth-rest"])
    with CaptureQueriesContext(connection) as queries:
        assert _open(paper) == ["btc-rest"]
    assert queries.captured_queries == []


def test_a_resting_order_the_book_crosses_fills_from_what_was_kept(paper, feed):
    paper.create_order(_resting("rest-3"))
    assert _open(paper) == ["rest-3"]
    feed.set("BTCUSDT", "49990.0", "49995.0")  # the ask falls through the bid
    paper.market_snapshot("BTCUSDT")
    assert _open(paper) == []
    [fill] = paper.fetch_fills("BTCUSDT")
    assert fill.client_order_id == "rest-3"


def test_this_connections_own_writes_are_kept_without_reading_again(paper, feed):
    assert _open(paper) == []
    paper.create_order(_resting("own-1"))
    paper.create_order(order("own-market", "BUY", "0.002"))  # fills at once, rests nowhere
    with CaptureQueriesContext(connection) as queries:
        assert _open(paper) == ["own-1"]
    assert queries.captured_queries == []

    feed.set("BTCUSDT", "49990.0", "49995.0")  # the ask falls through own-1's bid
    paper.market_snapshot("BTCUSDT")
    paper._book_read = None  # not the snapshot's own read: what the connection kept
    with CaptureQueriesContext(connection) as queries:
        assert _open(paper) == []
    assert queries.captured_queries == []

    paper.create_order(order("own-2", "BUY", "0.003", price="49900.0"))
    paper.cancel_order("BTCUSDT", "own-2")
    paper._book_read = None
    with CaptureQueriesContext(connection) as queries:
        assert _open(paper) == []
    assert queries.captured_queries == []


def test_another_connections_order_placed_before_this_ones_write_is_not_lost(paper):
    assert _open(paper) == []  # kept: nothing open
    _elsewhere(paper, lambda other: other.create_order(_resting("theirs")))
    paper.create_order(_resting("mine"))  # its own write knows only of its own order
    assert _eventually(lambda: sorted(_open(paper)) == ["mine", "theirs"])


def test_a_write_that_rolls_back_leaves_nothing_kept(paper):
    assert _open(paper) == []
    with pytest.raises(RuntimeError), transaction.atomic():
        paper.create_order(_resting("rolled-back"))
        raise RuntimeError("the caller's transaction fails after the order")
    with CaptureQueriesContext(connection) as queries:
        assert _open(paper) == []
    assert len(queries.captured_queries) == 1


def test_nothing_is_kept_inside_an_atomic_block(paper):
    with transaction.atomic():
        assert _open(paper) == []
        with CaptureQueriesContext(connection) as queries:
            assert _open(paper) == []
        assert len(queries.captured_queries) == 1


def test_a_new_connection_reads_afresh(paper):
    assert _open(paper) == []
    connection.close()  # what happens meanwhile is not notified to a closed connection
    _elsewhere(paper, lambda other: other.create_order(_resting("while-away")))
    assert _open(paper) == ["while-away"]


def test_a_thread_that_does_not_tick_keeps_nothing(paper):
    connection._xquant_keeps_open_orders = False  # a web request's thread, say
    assert _open(paper) == []
    with CaptureQueriesContext(connection) as queries:
        assert _open(paper) == []
    assert len(queries.captured_queries) == 1
