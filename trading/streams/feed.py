"""The tick's market data: the streamed book when it is fresh, REST otherwise.

`tick_snapshot` is the one call the tick makes (trading.services.tick). Only exchanges
whose streams `runstreams` follows use the streamed book: the paper exchange matches
its resting orders when the tick asks it for the book, so its tick keeps asking it.
A symbol that falls back to REST while a stream process was running logs one warning
per degradation (and one line when it is back), and the desk gets one "stream down"
notification per degradation (trading.notifications); each tick notes the feed it used, with
its time, for health and the metrics.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.core.cache import cache

from exchanges.base import Exchange, MarketSnapshot
from exchanges.streams import book
from trading.notifications.events import stream_down_notice
from trading.notifications.services import notify

logger = logging.getLogger("trading.streams")

STREAMED_EXCHANGES = ("binance",)
STREAM, REST = "stream", "rest"
#: A tick rewrites its symbol's feed note when the feed changes or this has passed.
_NOTE_EVERY_SECONDS = 5.0

_lock = threading.Lock()
#: symbol -> (source, since, noted at): this process's last note per symbol.
_notes: dict[str, tuple[str, float, float]] = {}


def tick_snapshot(*, exchange: Exchange, symbol: str) -> MarketSnapshot:
    if exchange.name in STREAMED_EXCHANGES:
        try:
            snapshot = book.fresh_book(
                exchange.name, symbol, max_age=settings.STREAM_BOOK_MAX_AGE_SECONDS
            )
        except Exception:  # the store being down must never stop the tick
            logger.warning("streamed book of %s unreadable; using REST", symbol, exc_info=True)
            snapshot = None
        if snapshot is not None:
            _note(exchange.name, symbol, STREAM)
            return snapshot
        _note(exchange.name, symbol, REST)
    return exchange.market_snapshot(symbol)


def _note(exchange: str, symbol: str, source: str) -> None:
    now = time.time()
    with _lock:
        previous = _notes.get(symbol)
        changed = previous is None or previous[0] != source
        if not changed and now - previous[2] < _NOTE_EVERY_SECONDS:
            return
        since = now if changed else previous[1]
        _notes[symbol] = (source, since, now)
    if changed and source == STREAM and previous is not None:
        logger.info("%s: back on the streamed book after %.0f s on REST", symbol, now - previous[1])
        _stream_back(exchange)
    elif changed and source == REST and (previous is not None or _stream_ran(exchange)):
        logger.warning("%s: streamed book not fresh; the tick polls REST until it is", symbol)
        _stream_down(exchange, symbol)
    try:
        book.source_put(exchange, symbol, {"source": source, "since": since, "at": now})
    except Exception:
        logger.debug("could not note the feed of %s", symbol, exc_info=True)


def _down_key(exchange: str) -> str:
    return f"notifications:stream-down:{exchange}"


def _stream_down(exchange: str, symbol: str) -> None:
    """One "stream down" notice per degradation, whichever process and symbol sees it."""
    try:
        if cache.add(_down_key(exchange), True, timeout=None):
            notify(stream_down_notice(exchange, symbol))
    except Exception:
        logger.debug("could not notify the stream degradation", exc_info=True)


def _stream_back(exchange: str) -> None:
    try:
        cache.delete(_down_key(exchange))
    except Exception:
        logger.debug("could not clear the stream degradation", exc_info=True)


def _stream_ran(exchange: str) -> bool:
    try:
        return book.stream_state(exchange, book.MARKET_STREAM) is not None
    except Exception:
        return False


def notes_forget() -> None:
    """Tests: forget this process's notes (the store is cleared between tests)."""
    with _lock:
        _notes.clear()
