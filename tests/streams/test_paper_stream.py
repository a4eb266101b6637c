"""The simulated exchanges publish their feed's book through the same store and the same
dashboard events; their tick keeps asking the exchange (which matches resting orders)."""

from __future__ import annotations

import threading

import pytest

from exchanges.streams import book
from tests.conftest import wait_for
from trading.streams.feed import tick_snapshot
from trading.streams.paper import PaperStreamRunner

pytestmark = pytest.mark.django_db(transaction=True)


def test_paper_stream_publishes_the_feed_book_and_the_tick_still_asks_paper(
    registry_paper, dashboard_events
):
    stop = threading.Event()
    runner = PaperStreamRunner(exchange=registry_paper, symbols=["BTCUSDT"], interval=0.05)
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    try:
        state = wait_for(lambda: book.stream_state("paper", book.MARKET_STREAM), 5, "the state")
        assert state.state == book.UP
        streamed = wait_for(lambda: book.fresh_book("paper", "BTCUSDT", 5.0), 5, "a book")
        assert streamed.bid < streamed.ask
    finally:
        stop.set()
        thread.join(5)
    assert book.stream_state("paper", book.MARKET_STREAM).state == book.DOWN
    prices = [e for e in dashboard_events.of_type("price") if e["symbol"] == "BTCUSDT"]
    assert prices, "the dashboard got the streamed book as price events"
    # Paper matches its resting orders when asked for the book: the tick keeps asking it.
    asked = []
    original = registry_paper.market_snapshot
    registry_paper.market_snapshot = lambda symbol: asked.append(symbol) or original(symbol)
    try:
        tick_snapshot(exchange=registry_paper, symbol="BTCUSDT")
    finally:
        registry_paper.market_snapshot = original
    assert asked == ["BTCUSDT"]
