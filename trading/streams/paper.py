"""The simulated exchanges' stream, and the dashboard's price event for a streamed book."""

from __future__ import annotations

import logging
import threading
import time

from exchanges.base import Exchange, MarketSnapshot
from exchanges.streams import book
from trading.events import PriceTicked, publish

logger = logging.getLogger("trading.streams")


def publish_book(snapshot: MarketSnapshot) -> None:
    """The dashboard's price event, the one the tick sends."""
    publish(
        PriceTicked(
            symbol=snapshot.symbol,
            bid=snapshot.bid,
            ask=snapshot.ask,
            mid=snapshot.mid,
            timestamp=snapshot.timestamp,
        )
    )


class PaperStreamRunner:
    """The simulated exchanges' stream: their feed's book for every symbol, every
    `interval`, into the same store and the same dashboard events (their fills are
    recorded and published by the fill service when the tick makes them)."""

    def __init__(self, *, exchange: Exchange, symbols: list[str], interval: float = 1.0):
        self.exchange, self.symbols, self.interval = exchange, list(symbols), interval

    def run(self, stop: threading.Event) -> None:
        feed, clock = self.exchange.feed, self.exchange.clock
        state = book.StreamState(stream=book.MARKET_STREAM, state=book.UP)
        state.connected_at = state.since = time.time()
        while not stop.is_set():
            now = time.time()
            try:
                books = [(feed.snapshot(s, clock()), now) for s in self.symbols]
                state.alive_at = now
                book.books_put(self.exchange.name, books)
                book.states_put(self.exchange.name, [state])
                for snapshot, _ in books:
                    publish_book(snapshot)
            except Exception:
                logger.warning("paper stream: could not publish the books", exc_info=True)
            stop.wait(self.interval)
        state.state = book.DOWN
        book.states_put(self.exchange.name, [state])
