"""The stream process: exchange WebSocket streams → book store, candles, fills, events.

One asyncio loop runs a watch loop per stream through ccxt.pro (exchanges.streams
.client): book tickers (the market stream the tick reads), closed 1m klines, mark
prices and funding, and the user-data stream (order updates and fills). Database work
runs in one worker thread, in the order the events came, so an order's updates are
applied in turn and a catch-up never overlaps an event.

Failure handling:
- a watch that fails (connection dropped or refused, listen key expired, keepalive
  failed) is retried after a backoff that doubles up to a cap, with jitter;
- a stall counts as a disconnection: a market stream with no message within
  `stall_seconds`, any connection whose pongs stop (ccxt's ping, exchanges.streams
  .client);
- every (re)connection of the user-data stream is followed by a REST catch-up
  (user_data.streams_catch_up), so fills made while it was down are recorded, once;
  every (re)connection of the kline stream by a fetch of the 1m bars it missed;
- the listen key is kept alive by ccxt well before its 60 minutes, created again after
  `listenKeyExpired`, and never deleted (other clients of the account may use it).

Each stream's state (up/down, connected at, last sign of life, reconnects, last
error) is written with the books every `flush_seconds`, for the tick, health and
metrics in every process.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import ccxt
from django.db import connection

from exchanges.base import Exchange, MarketSnapshot
from exchanges.streams import book, events
from exchanges.streams.client import MARKET, PRIVATE, PUBLIC, StreamClient
from trading.services.account import account_refresh
from trading.streams.candles import candles_catch_up, closed_kline_store
from trading.streams.paper import publish_book
from trading.streams.user_data import order_update_record, streams_catch_up

logger = logging.getLogger("trading.streams")

KLINES, MARK = "klines", "mark"
#: Which streams each connection category carries.
_STREAMS_OF = {PUBLIC: [book.MARKET_STREAM], MARKET: [KLINES, MARK], PRIVATE: [book.USER_STREAM]}


@dataclass
class StreamSettings:
    #: A connection whose pongs stop for this long is dropped and reconnected.
    stall_seconds: float = 30.0
    #: A market stream with no message for this long is too (None: stall_seconds).
    market_silence_seconds: float | None = None
    keepalive_seconds: float = 1200.0
    backoff_base_seconds: float = 0.5
    backoff_cap_seconds: float = 30.0
    flush_seconds: float = 0.1
    #: Dashboard price events per symbol at most this often.
    publish_seconds: float = 1.0


def backoff_delay(
    attempt: int, base: float, cap: float, rng: random.Random = random._inst
) -> float:  # type: ignore[attr-defined]
    """Exponential backoff with jitter: between half and all of min(cap, base·2^n)."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return ceiling * (0.5 + rng.random() / 2)


class StreamRunner:
    def __init__(
        self,
        *,
        exchange: Exchange,
        symbols: list[str],
        api_key: str,
        api_secret: str,
        base_url: str,
        stream_url: str,
        config: StreamSettings | None = None,
        user_data: bool = True,
        on_applied: Callable[[events.OrderUpdate, Any], None] | None = None,
    ):
        self.exchange = exchange
        self.symbols = list(symbols)
        self.config = config or StreamSettings()
        self.user_data = user_data and bool(api_key)
        self.on_applied = on_applied
        self.client = StreamClient(
            api_key=api_key,
            api_secret=api_secret,
            base_url=base_url,
            stream_url=stream_url,
            keepalive_seconds=self.config.keepalive_seconds,
            stall_seconds=self.config.stall_seconds,
            on_message=self._on_message,
            on_connected=self._on_connected,
        )
        self.states = {
            name: book.StreamState(stream=name)
            for name in (book.MARKET_STREAM, KLINES, MARK, book.USER_STREAM)
        }
        self.catch_ups = 0
        self._account_queued = False
        self.keepalives = 0
        self.listen_key_expiries = 0
        self._books: dict[str, tuple[MarketSnapshot, float]] = {}
        self._marks: dict[str, events.MarkPrice] = {}
        self._published: dict[str, float] = {}
        self._db = ThreadPoolExecutor(1, thread_name_prefix="streams-db")
        self._io = ThreadPoolExecutor(1, thread_name_prefix="streams-store")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._pending: set[asyncio.Future] = set()

    # --- running ---------------------------------------------------------------------
    async def run(self, stop: threading.Event | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        tasks = [asyncio.ensure_future(self._stop_when(stop))] if stop is not None else []
        loading = asyncio.ensure_future(self._load_markets())
        stopping = asyncio.ensure_future(self._stop.wait())
        await asyncio.wait([loading, stopping], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not loading.done():  # stopped before the exchange answered
            loading.cancel()
            for task in tasks:
                task.cancel()
            await self.client.close()
            self._db.shutdown(wait=False)
            self._io.shutdown(wait=False)
            return
        unified = [self._unified(s) for s in self.symbols]
        c = self.client
        loops = [
            self._watch(book.MARKET_STREAM, PUBLIC, lambda: c.watch_bids_asks(unified), True),
            self._watch(
                KLINES,
                MARKET,
                lambda: c.watch_ohlcv_for_symbols([[s, "1m"] for s in unified]),
                True,
            ),
            self._watch(MARK, MARKET, lambda: c.watch_mark_prices(unified), True),
            self._flush_loop(),
        ]
        if self.user_data:
            loops.append(self._watch(book.USER_STREAM, PRIVATE, lambda: c.watch_orders(), False))
            loops.append(self._keepalive_loop())
        tasks += [asyncio.ensure_future(one) for one in loops]
        logger.info(
            "streams: following %s (user data: %s)", ", ".join(self.symbols), self.user_data
        )
        try:
            await self._stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for state in self.states.values():
                state.state = book.DOWN
            await self._flush()
            try:
                await self.client.close()
            except Exception:
                logger.debug("closing the stream client", exc_info=True)
            # The database thread's connection goes back to the pool with it.
            await self._loop.run_in_executor(self._db, _close_connection)
            self._db.shutdown(wait=True)
            self._io.shutdown(wait=True)

    async def _load_markets(self) -> None:
        """The symbols' markets (one exchangeInfo), retried with backoff while REST is down."""
        attempt = 0
        while True:
            try:
                await self.client.load_markets()
                return
            except Exception as exc:
                attempt += 1
                delay = backoff_delay(
                    attempt, self.config.backoff_base_seconds, self.config.backoff_cap_seconds
                )
                logger.warning("streams: markets not loaded (%s); again in %.1f s", exc, delay)
                await asyncio.sleep(delay)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)

    async def _stop_when(self, stop: threading.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(0.05)
        self._stop.set()

    @property
    def _silence(self) -> float:
        return self.config.market_silence_seconds or self.config.stall_seconds

    def _unified(self, symbol: str) -> str:
        return self.client.markets_by_id[symbol][0]["symbol"]

    async def _watch(
        self, name: str, category: str, watch: Callable[[], Awaitable], silence_bound: bool
    ) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                # asyncio.timeout, not wait_for: Python 3.11's wait_for swallows a
                # cancellation that arrives as the watch returns, and this loop then
                # outlives run()'s shutdown (a busy book stream hung the stop that way).
                async with asyncio.timeout(self._silence if silence_bound else None):
                    await watch()
                attempt = 0
                continue
            except TimeoutError:
                reason = f"stalled: no message within {self._silence:g} s"
                self.client.fail_connections(category, ccxt.RequestTimeout(reason))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"[:300]
            attempt += 1
            self._down(category, reason)
            delay = backoff_delay(
                attempt, self.config.backoff_base_seconds, self.config.backoff_cap_seconds
            )
            logger.warning("stream %s down (%s); reconnecting in %.2f s", name, reason, delay)
            await asyncio.sleep(delay)

    async def _keepalive_loop(self) -> None:
        """PUT the listen key every `keepalive_seconds`. ccxt 4.5.90 (Python) sends one
        keepalive after creating a key but never schedules the next: it looks for its
        subscription with safe_dict on a Client object, which is not a dict. A failed
        keepalive makes ccxt forget the key and fail the user-data connection, so the
        watch loop reconnects with a new key."""
        while True:
            await asyncio.sleep(self.config.keepalive_seconds)
            if self.client.safe_dict(self.client.options, "linear", {}).get("listenKey"):
                try:
                    await self.client.keep_alive_listen_key({"type": "linear"})
                    self.keepalives += 1
                except Exception:
                    logger.warning("listen-key keepalive failed", exc_info=True)

    # --- ccxt callbacks (on the loop) ------------------------------------------------
    def _on_connected(self, category: str) -> None:
        now = time.time()
        for name in _STREAMS_OF.get(category, []):
            state = self.states[name]
            if state.connected_at:
                state.reconnects += 1
            state.state, state.connected_at, state.alive_at, state.since = book.UP, now, now, now
        logger.info("stream connected: %s", ", ".join(_STREAMS_OF.get(category, [])))
        if category == PRIVATE:
            self._in_db(self._catch_up)
        elif category == MARKET:
            self._in_db(self._candles_catch_up)

    def _down(self, category: str, reason: str) -> None:
        now = time.time()
        for name in _STREAMS_OF.get(category, []):
            state = self.states[name]
            if state.state != book.DOWN:
                state.since = now
            state.state, state.last_error = book.DOWN, reason

    def _on_message(self, category: str, message: Any) -> None:
        now = time.time()
        if isinstance(message, dict):
            kind = message.get("e")
            if kind == "bookTicker" or (kind is None and "b" in message and "a" in message):
                snapshot = events.book_ticker(message)
                if snapshot is not None:
                    self._books[snapshot.symbol] = (snapshot, now)
                    self.states[book.MARKET_STREAM].alive_at = now
            elif kind == "kline":
                self.states[KLINES].alive_at = now
                closed = events.closed_kline(message)
                if closed is not None:
                    self._in_db(self._store_candle, closed)
            elif kind == "markPriceUpdate":
                self.states[MARK].alive_at = now
                mark = events.mark_price(message)
                if mark is not None:
                    self._marks[mark.symbol] = mark
            elif kind == "ORDER_TRADE_UPDATE":
                self.states[book.USER_STREAM].alive_at = now
                update = events.order_update(message)
                if update is not None:
                    self._in_db(self._apply, update)
            elif kind == "ACCOUNT_UPDATE":
                self.states[book.USER_STREAM].alive_at = now
                if not self._account_queued:  # one refresh covers every update before it
                    self._account_queued = True
                    self._in_db(self._account_refresh)
            elif kind == "listenKeyExpired":
                self.listen_key_expiries += 1
                logger.warning("user-data listen key expired; creating a new one and reconnecting")
        elif isinstance(message, list):
            for one in message:
                self._on_message(category, one)

    # --- database work (one thread, in order) ----------------------------------------
    def _in_db(self, fn: Callable, *args) -> None:
        future = self._loop.run_in_executor(self._db, _with_connections, fn, *args)
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)

    def _apply(self, update: events.OrderUpdate) -> None:
        try:
            order = order_update_record(update=update, exchange=self.exchange)
        except Exception:
            logger.exception(
                "stream: could not record %s update of %s; reconciliation will",
                update.execution,
                update.order.client_order_id,
            )
            return
        if self.on_applied is not None:
            self.on_applied(update, order)

    def _catch_up(self) -> None:
        try:
            report = streams_catch_up(exchange=self.exchange, symbols=self.symbols)
        except Exception:
            logger.exception("stream catch-up failed; the next reconnection tries again")
            return
        self.catch_ups += 1
        logger.info("stream catch-up over REST: %s", report.summary())

    def _account_refresh(self) -> None:
        """The balances the account's dashboard shows, as the tick keeps them (one REST
        read: ACCOUNT_UPDATE carries the wallet but not the margin figures)."""
        self._account_queued = False
        try:
            account_refresh(exchange=self.exchange)
        except Exception:
            logger.warning("stream: could not refresh the account balances", exc_info=True)

    def _candles_catch_up(self) -> None:
        candles_catch_up(exchange=self.exchange, symbols=self.symbols)

    def _store_candle(self, closed: events.ClosedKline) -> None:
        closed_kline_store(closed=closed, exchange=self.exchange)

    # --- store -------------------------------------------------------------------------
    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.flush_seconds)
            try:
                await self._flush()
            except Exception:
                logger.warning("could not write the streamed books", exc_info=True)

    async def _flush(self) -> None:
        books, self._books = self._books, {}
        for url, client in list((self.client.clients or {}).items()):
            # Pongs and frames are signs of life of a quiet connection (user data).
            seen = max(client.lastPong or 0, getattr(client, "last_message_at", 0) or 0) / 1000
            for name in _STREAMS_OF.get(_category(url), []):
                if self.states[name].state == book.UP and seen:
                    self.states[name].alive_at = max(self.states[name].alive_at, seen)
        states = [
            book.StreamState(**{**vars(s), "extra": self._extra(s.stream)})
            for s in self.states.values()
        ]
        await self._loop.run_in_executor(self._io, self._write, books, states)

    def _extra(self, stream: str) -> dict:
        if stream == book.USER_STREAM:
            return {
                "catch_ups": self.catch_ups,
                "keepalives": self.keepalives,
                "listen_key_expiries": self.listen_key_expiries,
            }
        if stream == MARK:
            return {
                s: {"mark_price": str(m.mark_price), "funding_rate": str(m.funding_rate)}
                for s, m in self._marks.items()
            }
        return {}

    def _write(self, books: dict, states: list[book.StreamState]) -> None:
        book.books_put(self.exchange.name, list(books.values()))
        book.states_put(self.exchange.name, states)
        now = time.monotonic()
        for snapshot, _ in books.values():
            if now - self._published.get(snapshot.symbol, 0) >= self.config.publish_seconds:
                self._published[snapshot.symbol] = now
                publish_book(snapshot)

    async def drain(self) -> None:
        """Tests and benchmarks: wait for the database work queued so far."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)


def _category(url: str) -> str:
    from exchanges.streams.client import category_of

    return category_of(url)


def _with_connections(fn: Callable, *args) -> Any:
    """The database thread keeps its connection between events (taking one from the
    pool and health-checking it is a query per event); one that failed is
    given back, so the next event starts on a sound one."""
    try:
        return fn(*args)
    except Exception:
        connection.close()
        raise


def _close_connection() -> None:
    connection.close()  # looked up in the calling thread: its own connection
