"""`manage.py bench_streams`: what the streams cost and save, on loopback.

1. Latency of a pushed fill: the Binance emulators (REST + WebSocket, tests/) in this
   process, the stream runner (real ccxt.pro) in a thread, and `manage.py serve` as a
   subprocess with a logged-in websocket client on /ws/dashboard/. For each of N market
   orders (alternating sides), three instants: the emulator writes ORDER_TRADE_UPDATE to
   the socket → the fill row is committed (order_apply_state returned) → the dashboard's
   `fill.created` event reaches the websocket client. p50/p95/p99 of each step.
2. REST request weight of the trading ticks, with the streamed book and without, for
   the emulator's symbols, per symbol-tick (idle, and with a resting order per symbol);
   then per minute for 100 symbols ticking every second, and the streams' own REST
   (listen-key keepalive, the catch-up after a reconnection).

Needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL): `make bench-streams`.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone


def _percentiles(values: list[float]) -> str:
    ordered = sorted(values)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return f"p50 {pick(0.50):.2f} ms, p95 {pick(0.95):.2f} ms, p99 {pick(0.99):.2f} ms"


class Command(BaseCommand):
    help = "Stream latency (exchange event → fill committed → websocket) and REST weight saved."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--fills", type=int, default=1000)
        parser.add_argument("--ticks", type=int, default=20, help="tick rounds per weight case")

    def handle(self, *args, fills: int, ticks: int, **options) -> None:
        if not settings.REDIS_URL or "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
            raise CommandError("bench_streams needs DATABASE_URL (PostgreSQL) and REDIS_URL")
        from django.contrib.auth import get_user_model

        from exchanges.binance import BinanceExchange
        from exchanges.binance.throttle import LocalWeightStore
        from tests.binance_emulator import BinanceEmulator
        from tests.binance_emulator.streams import StreamEmulator

        user_model = get_user_model()
        password = uuid.uuid4().hex
        user_model.objects.filter(username="bench-streams").delete()
        user_model.objects.create_superuser("bench-streams", "", password)

        rest = BinanceEmulator(weight_limit=10**9).start()
        ws = StreamEmulator(rest).start()
        exchange = BinanceExchange(
            api_key=rest.api_key, api_secret=rest.api_secret, base_url=rest.url,
            timeout=5.0, weight_store=LocalWeightStore(),
        )  # fmt: skip
        try:
            self._latency(rest, ws, exchange, fills, password)
            self._weights(rest, ws, exchange, ticks)
        finally:
            ws.stop()
            rest.stop()
            user_model.objects.filter(username="bench-streams").delete()

    # --- 1. latency ----------------------------------------------------------------------
    def _latency(self, rest, ws, exchange, count: int, password: str) -> None:
        from trading.models import Fill, Order, OrderSource, OrderStatus

        committed: dict[str, float] = {}
        _, stop, thread = self._runner(rest, ws, exchange, committed)
        server = _Server(password)
        client = _DashboardClient(server)
        try:
            server.start()
            client.start()
            sides = ["BUY", "SELL"]
            started = time.perf_counter()
            for i in range(count):
                cid = f"xqbench{uuid.uuid4().hex[:24]}"
                Order.objects.create(
                    client_order_id=cid, exchange="binance", symbol="BTCUSDT",
                    side=sides[i % 2], order_type="MARKET", quantity=Decimal("0.002"),
                    status=OrderStatus.SUBMITTING, attempt_count=1, source=OrderSource.API,
                    submitted_at=timezone.now(),
                )  # fmt: skip
                before = len(client.fills)
                from exchanges.base import OrderRequest

                exchange.create_order(
                    OrderRequest(symbol="BTCUSDT", side=sides[i % 2], order_type="MARKET",
                                 quantity=Decimal("0.002"), client_order_id=cid)
                )  # fmt: skip
                deadline = time.monotonic() + 10
                while len(client.fills) <= before and time.monotonic() < deadline:
                    time.sleep(0.0005)
            elapsed = time.perf_counter() - started
            time.sleep(0.5)
            by_pk = dict(
                Fill.objects.filter(exchange="binance", pk__in=list(client.fills)).values_list(
                    "pk", "trade_id"
                )
            )
        finally:
            client.stop()
            server.stop()
            stop.set()
            thread.join(20)
        to_commit, to_socket, total = [], [], []
        for pk, received in client.fills.items():
            trade_id = by_pk.get(pk)
            sent = ws.sent_at.get(int(trade_id)) if trade_id else None
            done = committed.get(trade_id)
            if sent is None or done is None:
                continue
            to_commit.append((done - sent) * 1000)
            to_socket.append((received - done) * 1000)
            total.append((received - sent) * 1000)
        self.stdout.write(
            f"fills pushed {count}, recorded {Fill.objects.filter(exchange='binance').count()}, "
            f"delivered to the websocket client {len(client.fills)}, measured {len(total)} "
            f"({count / elapsed:.0f} fills/s one at a time)"
        )
        self.stdout.write(f"event → fill row committed:        {_percentiles(to_commit)}")
        self.stdout.write(f"committed → websocket client:      {_percentiles(to_socket)}")
        self.stdout.write(f"event → websocket client (total):  {_percentiles(total)}")

    def _runner(self, rest, ws, exchange, committed: dict):
        from trading.streams.runner import StreamRunner, StreamSettings

        def applied(update, order) -> None:
            if update.fill is not None:
                committed.setdefault(update.fill.trade_id, time.perf_counter())

        runner = StreamRunner(
            exchange=exchange, symbols=["BTCUSDT", "ETHUSDT"], api_key=rest.api_key,
            api_secret=rest.api_secret, base_url=rest.url, stream_url=ws.ws_url,
            config=StreamSettings(stall_seconds=30, market_silence_seconds=600),
            on_applied=applied,
        )  # fmt: skip
        stop = threading.Event()
        thread = threading.Thread(target=lambda: asyncio.run(runner.run(stop)), daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while runner.catch_ups < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        return runner, stop, thread

    # --- 2. REST weight ------------------------------------------------------------------
    def _weights(self, rest, ws, exchange, rounds: int) -> None:
        from tests.binance_emulator.streams import wait_until
        from trading.services.orders import SendNow
        from trading.services.strategy_manager import StrategyManager
        from trading.services.tick import tick_run
        from trading.streams.feed import notes_forget
        from trading.streams.health import feed_report

        symbols = ["BTCUSDT", "ETHUSDT"]
        manager = StrategyManager(exchange)

        def weight_of_ticks() -> float:
            first = len(rest.requests)
            for _ in range(rounds):
                for symbol in symbols:
                    tick_run(symbol=symbol, exchange=exchange, manager=manager,
                             submit=SendNow(exchange))  # fmt: skip
            spent = sum(rest._weight(r.method, r.path, r.params) for r in rest.requests[first:])
            return spent / (rounds * len(symbols))

        from django.core.cache import cache

        cache.clear()
        notes_forget()
        results = {"without streams, idle": weight_of_ticks()}
        resting = self._rest_one_order_each(exchange, symbols)
        results["without streams, a resting order per symbol"] = weight_of_ticks()
        self._cancel(exchange, resting)

        committed: dict = {}
        pushing = threading.Event()

        def push() -> None:
            while not pushing.is_set():
                ws.push_book("BTCUSDT", "65000.00", "65000.10")
                ws.push_book("ETHUSDT", "3499.99", "3500.00")
                pushing.wait(0.05)

        pusher = threading.Thread(target=push, daemon=True)
        pusher.start()
        first = len(rest.requests)
        _, stop, thread = self._runner(rest, ws, exchange, committed)
        catch_up = sum(rest._weight(r.method, r.path, r.params) for r in rest.requests[first:])
        try:
            wait_until(lambda: feed_report(exchange="binance", symbols=symbols)["live"], 10)
            results["with streams, idle"] = weight_of_ticks()
            resting = self._rest_one_order_each(exchange, symbols)
            results["with streams, a resting order per symbol"] = weight_of_ticks()
            self._cancel(exchange, resting)
        finally:
            stop.set()
            thread.join(20)
            pushing.set()
            pusher.join(2)
        self.stdout.write(
            "REST weight per symbol-tick → per minute for 100 symbols ticking every second "
            "(Binance allows 2400/min per IP):"
        )
        for case, per_tick in results.items():
            self.stdout.write(f"  {case:45s} {per_tick:5.2f} → {per_tick * 100 * 60:8.0f}/min")
        self.stdout.write(
            f"streams' own REST: start-up (markets, listen key, catch-up) {catch_up} for "
            f"2 symbols, at most {catch_up / 2 * 100:.0f} for 100 per (re)connection; "
            "listen-key keepalive 1 per 20 min"
        )

    def _rest_one_order_each(self, exchange, symbols: list[str]):
        from exchanges.base import OrderRequest
        from trading.models import Order, OrderSource, OrderStatus

        prices = {"BTCUSDT": Decimal("60000.0"), "ETHUSDT": Decimal("3000.00")}
        orders = []
        for symbol in symbols:
            cid = f"xqbench{uuid.uuid4().hex[:24]}"
            state = exchange.create_order(
                OrderRequest(symbol=symbol, side="BUY", order_type="LIMIT",
                             quantity=Decimal("0.010") if symbol == "BTCUSDT" else Decimal("0.100"),
                             client_order_id=cid, price=prices[symbol])
            )  # fmt: skip
            orders.append(
                Order.objects.create(
                    client_order_id=cid,
                    exchange="binance",
                    symbol=symbol,
                    side="BUY",
                    order_type="LIMIT",
                    quantity=Decimal(state.quantity),
                    price=prices[symbol],
                    status=OrderStatus.OPEN,
                    exchange_order_id=state.exchange_order_id,
                    attempt_count=1,
                    source=OrderSource.API,
                    submitted_at=timezone.now(),
                )
            )
        return orders

    def _cancel(self, exchange, orders) -> None:
        from trading.models import OrderStatus

        for order in orders:
            exchange.cancel_order(order.symbol, order.client_order_id)
            order.status = OrderStatus.CANCELED
            order.closed_at = timezone.now()
            order.save()


class _Server:
    """`manage.py serve --no-trader` on this database and Redis, same channel prefix."""

    def __init__(self, password: str):
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.password = password
        self.process = None

    def start(self) -> None:
        import httpx

        db = settings.DATABASES["default"]
        auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "REDIS_URL": settings.REDIS_URL,
            "CHANNELS_PREFIX": settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
            "STREAMS_EMBEDDED": "false",
            "EXCHANGE": "paper",
            "LOG_LEVEL": "WARNING",
        }
        self.process = subprocess.Popen(  # noqa: S603 - this interpreter, our manage.py
            [sys.executable, "manage.py", "serve", "--no-trader", "--port", str(self.port)],
            cwd=settings.BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/accounts/login/").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise CommandError("the web server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(15)


class _DashboardClient:
    """A logged-in websocket client of /ws/dashboard/: when each fill.created arrived."""

    def __init__(self, server: _Server):
        self.server = server
        self.fills: dict[int, float] = {}
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        import httpx

        base = f"http://127.0.0.1:{self.server.port}"
        with httpx.Client(base_url=base) as http:
            http.get("/accounts/login/")
            http.post(
                "/accounts/login/",
                data={
                    "username": "bench-streams", "password": self.server.password,
                    "csrfmiddlewaretoken": http.cookies["csrftoken"],
                },
                headers={"Referer": base + "/accounts/login/"},
            )  # fmt: skip
            cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
        if "sessionid" not in cookie:
            raise CommandError("could not log the websocket client in")
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run(cookie)), daemon=True)
        self._thread.start()
        if not self._ready.wait(15):
            raise CommandError("the websocket client did not connect")

    async def _run(self, cookie: str) -> None:
        import aiohttp

        url = f"ws://127.0.0.1:{self.server.port}/ws/dashboard/"
        origin = f"http://127.0.0.1:{self.server.port}"
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(url, headers={"Cookie": cookie, "Origin": origin}) as socket,
        ):
            self._ready.set()
            while not self._stop.is_set():
                try:
                    message = await socket.receive(timeout=0.2)
                except TimeoutError:
                    continue
                if message.type != aiohttp.WSMsgType.TEXT:
                    if message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                        return
                    continue
                now = time.perf_counter()
                data = json.loads(message.data)
                for event in data.get("events", [data]):
                    if event.get("event") == "fill.created" or event.get("type") == "fill.created":
                        payload = event.get("data") or {}
                        self.fills.setdefault(int(payload["id"]), now)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
