"""A loopback emulator of Binance USD-M WebSocket streams, beside the REST emulator.

It serves the URLs ccxt.pro's binanceusdm builds from `urls['api']['ws']['linear']`
(``ws://127.0.0.1:<port>/ws``, which ccxt rewrites per category):

- ``/public/ws/<n>`` and ``/market/ws/<n>``: market streams. A client sends
  ``{"method": "SUBSCRIBE", "params": ["btcusdt@bookTicker", ...], "id": 1}``, gets
  ``{"result": null, "id": 1}``, then the events of those streams (``bookTicker``,
  ``kline_1m``, ``markPrice@1s``) that the test pushes.
- ``/private/ws?listenKey=<key>``: the user-data stream of the REST emulator's account.
  Every order change there (tests.binance_emulator.account) is pushed as
  ORDER_TRADE_UPDATE to the connections of the active listen key. A connection with an
  unknown or expired key is refused; when the key expires, its connections get
  ``listenKeyExpired`` and nothing after it (the connection stays open, as on Binance).

Faults, per kind of connection ("public", "market", "private"; None: all):
`drop` closes the TCP connections without a close frame; `stall` keeps the current
ones open but sends nothing on them and answers no ping (events meanwhile are lost); `duplicate` sends each
user event twice; `reorder` holds each user event until the next one and sends the two
swapped. Events pushed while nobody is connected are lost, as on Binance: the client
must catch up over REST.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from tests.binance_emulator.server import BinanceEmulator


@dataclass(eq=False)
class _Connection:
    kind: str
    ws: web.WebSocketResponse
    queue: asyncio.Queue
    listen_key: str | None = None
    streams: set[str] = field(default_factory=set)
    #: After listenKeyExpired: open, but nothing more is sent.
    expired: bool = False
    #: Open, but sends nothing and answers no ping (a half-dead TCP connection).
    stalled: bool = False


class StreamEmulator:
    """Start with `start()` (or as a context manager); point ccxt.pro at `ws_url`."""

    def __init__(self, rest: BinanceEmulator):
        self.rest = rest
        self.connections: list[_Connection] = []
        #: (kind, path) of every accepted connection, and refused ones as ("refused", key).
        self.connects: list[tuple[str, str]] = []
        self.duplicate = False
        self.reorder = False
        #: Monotonic send time of each user event, by trade id (benchmarks).
        self.sent_at: dict[int, float] = {}
        self._held: dict | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        self._started = threading.Event()

    # --- lifecycle -------------------------------------------------------------------
    def start(self) -> StreamEmulator:
        self._thread = threading.Thread(target=self._run, daemon=True, name="stream-emulator")
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("the stream emulator did not start")
        self.rest.account.listeners.append(self._on_account_event)
        self.rest.listen_keys.on_expired.append(self._on_key_expired)
        return self

    def stop(self) -> None:
        if self._on_account_event in self.rest.account.listeners:
            self.rest.account.listeners.remove(self._on_account_event)
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None

    def __enter__(self) -> StreamEmulator:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def ws_url(self) -> str:
        """The base ccxt's `urls['api']['ws']['linear']` takes."""
        return f"ws://127.0.0.1:{self._port}/ws"

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/public/ws/{n}", self._market_socket("public"))
        app.router.add_get("/market/ws/{n}", self._market_socket("market"))
        app.router.add_get("/private/ws", self._private_socket)
        self._runner = web.AppRunner(app, handle_signals=False)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self._port = site._server.sockets[0].getsockname()[1]
        self._expiry = self._loop.create_task(self._expiry_watch())
        self._started.set()
        self._loop.run_forever()

    async def _shutdown(self) -> None:
        self._expiry.cancel()
        for conn in list(self.connections):
            conn.ws._writer.transport.abort() if conn.ws._writer else None
        await self._runner.cleanup()

    # --- sockets ---------------------------------------------------------------------
    def _market_socket(self, kind: str):
        async def handler(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse(autoping=False)
            await ws.prepare(request)
            conn = _Connection(kind, ws, asyncio.Queue())
            self.connects.append((kind, request.path))
            return await self._serve(conn)

        return handler

    async def _private_socket(self, request: web.Request) -> web.StreamResponse:
        key = request.query.get("listenKey")
        if not self.rest.listen_keys.active(key):
            self.connects.append(("refused", key or ""))
            return web.json_response({"code": -1125, "msg": "Invalid listen key"}, status=400)
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        conn = _Connection("private", ws, asyncio.Queue(), listen_key=key)
        self.connects.append(("private", request.path))
        return await self._serve(conn)

    async def _serve(self, conn: _Connection) -> web.WebSocketResponse:
        self.connections.append(conn)
        writer = asyncio.ensure_future(self._write(conn))
        try:
            async for message in conn.ws:
                if conn.stalled:
                    continue  # a stalled server reads and ignores everything, pings too
                if message.type == WSMsgType.PING:
                    await conn.ws.pong(message.data)
                elif message.type == WSMsgType.TEXT:
                    await self._request(conn, json.loads(message.data))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.cancel()
            if conn in self.connections:
                self.connections.remove(conn)
        return conn.ws

    async def _request(self, conn: _Connection, request: dict) -> None:
        method, params = request.get("method"), request.get("params") or []
        if method == "SUBSCRIBE":
            conn.streams.update(params)
        elif method == "UNSUBSCRIBE":
            conn.streams.difference_update(params)
        conn.queue.put_nowait({"result": None, "id": request.get("id")})

    async def _write(self, conn: _Connection) -> None:
        while True:
            message = await conn.queue.get()
            if conn.stalled or conn.ws.closed:
                continue
            try:
                await conn.ws.send_str(json.dumps(message))
            except (ConnectionError, RuntimeError):
                return
            trade_id = (message.get("o") or {}).get("t") if isinstance(message, dict) else None
            if trade_id:
                self.sent_at.setdefault(trade_id, time.perf_counter())

    async def _expiry_watch(self) -> None:
        while True:
            await asyncio.sleep(0.05)
            self.rest.listen_keys.check_expiry()

    # --- market data -----------------------------------------------------------------
    def push_book(
        self,
        symbol: str,
        bid: Decimal | str,
        ask: Decimal | str,
        bid_qty: str = "1.5",
        ask_qty: str = "2.5",
    ) -> None:
        now = self.rest.now_ms()
        self._broadcast(
            f"{symbol.lower()}@bookTicker",
            {
                "e": "bookTicker", "u": now, "E": now, "T": now, "s": symbol,
                "b": f"{Decimal(bid):f}", "B": bid_qty, "a": f"{Decimal(ask):f}", "A": ask_qty,
            },
        )  # fmt: skip

    def push_kline(self, symbol: str, open_ms: int, ohlcv: tuple, *, closed: bool) -> None:
        o, h, low, c, v = (f"{Decimal(x):f}" for x in ohlcv)
        self._broadcast(
            f"{symbol.lower()}@kline_1m",
            {
                "e": "kline", "E": self.rest.now_ms(), "s": symbol,
                "k": {
                    "t": open_ms, "T": open_ms + 59_999, "s": symbol, "i": "1m", "f": 1, "L": 2,
                    "o": o, "c": c, "h": h, "l": low, "v": v, "n": 2, "x": closed, "q": "0",
                    "V": "0", "Q": "0", "B": "0",
                },
            },
        )  # fmt: skip

    def push_mark_price(self, symbol: str, mark: Decimal | str, funding: str = "0.0001") -> None:
        now = self.rest.now_ms()
        self._broadcast(
            f"{symbol.lower()}@markPrice@1s",
            {
                "e": "markPriceUpdate", "E": now, "s": symbol, "p": f"{Decimal(mark):f}",
                "i": f"{Decimal(mark):f}", "P": f"{Decimal(mark):f}", "r": funding,
                "T": now + 3_600_000,
            },
        )  # fmt: skip

    def _broadcast(self, stream: str, event: dict) -> None:
        def put() -> None:
            for conn in self.connections:
                if conn.kind != "private" and stream in conn.streams:
                    conn.queue.put_nowait(event)

        self._loop.call_soon_threadsafe(put)

    def subscribed(self, stream: str) -> bool:
        return any(stream in conn.streams for conn in list(self.connections))

    # --- user data -------------------------------------------------------------------
    def _on_account_event(self, event: dict) -> None:
        self._loop.call_soon_threadsafe(self._deliver, event)

    def _deliver(self, event: dict) -> None:
        batch = [event]
        if self.reorder:
            if self._held is None:
                self._held = event
                self._loop.call_later(0.2, self._flush_held, event)
                return
            batch, self._held = [event, self._held], None
        for one in batch:
            for _ in range(2 if self.duplicate else 1):
                for conn in self.connections:
                    if conn.kind == "private" and not conn.expired:
                        conn.queue.put_nowait(one)

    def _flush_held(self, event: dict) -> None:
        if self._held is event:
            self._held = None
            for conn in self.connections:
                if conn.kind == "private" and not conn.expired:
                    conn.queue.put_nowait(event)

    def _on_key_expired(self, key: str) -> None:
        def tell() -> None:
            for conn in self.connections:
                if conn.kind == "private" and conn.listen_key == key and not conn.expired:
                    conn.queue.put_nowait(
                        {"e": "listenKeyExpired", "E": self.rest.now_ms(), "listenKey": key}
                    )
                    conn.expired = True

        self._loop.call_soon_threadsafe(tell)

    # --- faults ----------------------------------------------------------------------
    def drop(self, kind: str | None = None) -> int:
        """Cut the connections of this kind (all when None) without a close frame."""

        async def cut() -> int:
            cut = [c for c in self.connections if kind is None or c.kind == kind]
            for conn in cut:
                transport = conn.ws._writer.transport if conn.ws._writer else None
                if transport is not None:
                    transport.abort()
            return len(cut)

        return asyncio.run_coroutine_threadsafe(cut(), self._loop).result(5)

    def stall(self, kind: str | None = None) -> int:
        """Stop sending anything (and answering pings) on the current connections of
        this kind, leaving them open; connections made afterwards work."""

        def mark() -> int:
            stalled = [c for c in self.connections if kind is None or c.kind == kind]
            for conn in stalled:
                conn.stalled = True
            return len(stalled)

        return asyncio.run_coroutine_threadsafe(_call(mark), self._loop).result(5)

    def count(self, kind: str) -> int:
        return sum(1 for c in list(self.connections) if c.kind == kind)

    def connected(self, kind: str) -> bool:
        return self.count(kind) > 0


async def _call(fn):
    return fn()


def wait_until(condition: Any, timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")
