"""The latest streamed book per symbol and the state of each stream, where every process
can read them: Django's cache, which is Redis with REDIS_URL and this process's memory
in embedded mode (where `serve` runs the streams in the web server's process).

A book is fresh for the tick when the market stream that brought it is up now, has
shown signs of life within `max_age`, and the book arrived on its current connection
(a book from before a reconnect may be out of date however recent the connection).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from django.core.cache import cache

from exchanges.base import MarketSnapshot

#: Kept without expiry: a stopped stream process shows as a stale state, not a missing one.
_PREFIX = "streams"
MARKET_STREAM, USER_STREAM = "market", "user"
UP, DOWN = "up", "down"


def _book_key(exchange: str, symbol: str) -> str:
    return f"{_PREFIX}:{exchange}:book:{symbol}"


def _state_key(exchange: str, stream: str) -> str:
    return f"{_PREFIX}:{exchange}:state:{stream}"


def _source_key(exchange: str, symbol: str) -> str:
    return f"{_PREFIX}:{exchange}:source:{symbol}"


@dataclass
class StreamState:
    stream: str
    state: str = DOWN
    #: Epoch seconds: when the current connection was made, when it last showed life.
    connected_at: float = 0.0
    alive_at: float = 0.0
    since: float = 0.0
    reconnects: int = 0
    last_error: str = ""
    extra: dict = field(default_factory=dict)

    def age(self, now: float | None = None) -> float | None:
        return None if not self.alive_at else max(0.0, (now or time.time()) - self.alive_at)

    def is_live(self, max_age: float, now: float | None = None) -> bool:
        age = self.age(now)
        return self.state == UP and age is not None and age <= max_age


def books_put(exchange: str, books: list[tuple[MarketSnapshot, float]]) -> None:
    """Store books, each with the epoch second it was received."""
    if books:
        cache.set_many(
            {
                _book_key(exchange, s.symbol): (
                    str(s.bid), str(s.ask), str(s.bid_qty or ""), str(s.ask_qty or ""),
                    s.timestamp, received,
                )
                for s, received in books
            },
            timeout=None,
        )  # fmt: skip


def _book(value) -> tuple[MarketSnapshot, float] | None:
    if not value:
        return None
    bid, ask, bid_qty, ask_qty, at, received = value
    return (
        MarketSnapshot(
            symbol="",
            bid=Decimal(bid),
            ask=Decimal(ask),
            bid_qty=Decimal(bid_qty) if bid_qty else None,
            ask_qty=Decimal(ask_qty) if ask_qty else None,
            timestamp=at,
        ),
        received,
    )


def states_put(exchange: str, states: list[StreamState]) -> None:
    cache.set_many({_state_key(exchange, s.stream): asdict(s) for s in states}, timeout=None)


def stream_state(exchange: str, stream: str) -> StreamState | None:
    value = cache.get(_state_key(exchange, stream))
    return StreamState(**value) if value else None


def fresh_book(exchange: str, symbol: str, max_age: float) -> MarketSnapshot | None:
    """The streamed book if it can stand in for a REST read now (one read of the cache)."""
    book_key, state_key = _book_key(exchange, symbol), _state_key(exchange, MARKET_STREAM)
    values = cache.get_many([book_key, state_key])
    book, state = _book(values.get(book_key)), values.get(state_key)
    if book is None or not state:
        return None
    state = StreamState(**state)
    snapshot, received = book
    if not state.is_live(max_age) or received < state.connected_at:
        return None
    snapshot.symbol = symbol
    return snapshot


def book_age(exchange: str, symbol: str) -> float | None:
    book = _book(cache.get(_book_key(exchange, symbol)))
    return None if book is None else max(0.0, time.time() - book[1])


def source_put(exchange: str, symbol: str, source: dict) -> None:
    """Which feed the symbol's last tick used: {"source": "stream"|"rest", "at", "since"}."""
    cache.set(_source_key(exchange, symbol), source, timeout=None)


def sources(exchange: str, symbols: list[str]) -> dict[str, dict]:
    found = cache.get_many([_source_key(exchange, s) for s in symbols])
    return {
        s: found[_source_key(exchange, s)] for s in symbols if _source_key(exchange, s) in found
    }
