"""End to end in chromium: `manage.py serve` (daphne + the trader) and `manage.py
runstreams` as two processes on the Binance emulators (REST + WebSocket, in this test's
process), PostgreSQL and Redis.

A fill the exchange pushes shows on the dashboard without waiting for a tick; stopping
the stream process leaves the ticks going over REST, and the dashboard's health widget
shows the feed as degraded; starting it again returns to the stream.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from exchanges.binance import BinanceExchange
from exchanges.binance.throttle import LocalWeightStore
from tests.binance_emulator import BinanceEmulator
from tests.binance_emulator.streams import StreamEmulator
from tests.conftest import user_with_roles
from tests.streams.conftest import resting_order
from tests.streams.test_market_streams import BookPusher
from tests.trading.test_dashboard_browser import (
    ARTIFACTS,
    PASSWORD,
    Server,
    free_port,
    log_in,
    off_loop,
)
from trading.models import Fill

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.timeout(180),
    pytest.mark.django_db(transaction=True),
]

#: Longer than any wait for the pushed fill below: it cannot have come from a tick.
TICK_SECONDS = "4"


class Streams:
    """`manage.py runstreams` in its own process group, with the server's environment."""

    def __init__(self, env: dict, log_path: Path):
        self.env, self.log_path, self.process = env, log_path, None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runstreams"], cwd=settings.BASE_DIR, env=self.env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


@pytest.fixture
def binance_world(transactional_db):
    ARTIFACTS.mkdir(exist_ok=True)
    with BinanceEmulator() as rest, StreamEmulator(rest) as ws:
        pusher = BookPusher(ws)
        server = Server(free_port(), ARTIFACTS / "streams-browser-server.log")
        server.log_path.write_text("")
        server.env.update(
            EXCHANGE="binance", EXCHANGE_API_KEY=rest.api_key, EXCHANGE_API_SECRET=rest.api_secret,
            EXCHANGE_BASE_URL=rest.url, EXCHANGE_STREAM_URL=ws.ws_url, TICK_SECONDS=TICK_SECONDS,
            STREAMS_EMBEDDED="false", STREAM_BOOK_MAX_AGE_SECONDS="2", STREAM_STALL_SECONDS="5",
        )  # fmt: skip
        streams = Streams(server.env, ARTIFACTS / "streams-browser-runstreams.log")
        streams.log_path.write_text("")
        server.start()
        streams.start()
        try:
            yield rest, ws, server, streams
        finally:
            streams.stop()
            server.stop()
            pusher.stop()
            server.wait_disconnected()


def _feed(page, symbol: str) -> str:
    return page.get_attribute(f'[data-feed="{symbol}"]', "data-feed-source") or ""


def _health_feed(server, symbol: str) -> str | None:
    body = httpx.get(f"{server.url}/api/health", timeout=5).json()
    return (
        body["checks"]["streams"].get("detail", {}).get("symbols", {}).get(symbol, {}).get("feed")
    )


def _wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_pushed_fill_shows_live_and_a_stopped_stream_degrades_to_rest(binance_world, browser_page):
    rest, ws, server, streams = binance_world
    off_loop(user_with_roles, "e2e", "trader", "risk", password=PASSWORD)
    _wait(lambda: ws.connected("private"), 30, "runstreams to connect its user-data stream")
    _wait(lambda: _health_feed(server, "BTCUSDT") == "stream", 30, "the ticks on the stream")
    page = browser_page
    log_in(page, server)
    page.wait_for_selector("html[data-live=connected]")
    page.wait_for_selector('[data-feed="BTCUSDT"][data-feed-source="stream"]')

    exchange = BinanceExchange(
        api_key=rest.api_key, api_secret=rest.api_secret, base_url=rest.url, timeout=2.0,
        weight_store=LocalWeightStore(),
    )  # fmt: skip
    order = off_loop(resting_order, exchange, price="64000.0")
    pushed_at = time.monotonic()
    rest.set_book("BTCUSDT", "63990.0", "63999.9")  # the resting buy fills; its event is pushed
    fill = _wait(
        lambda: off_loop(lambda: Fill.objects.filter(order_id=order.pk).first()), 10, "the fill"
    )
    page.wait_for_selector(f'[data-live="fills"] tr[data-fill-id="{fill.pk}"]', timeout=3_000)
    assert time.monotonic() - pushed_at < float(TICK_SECONDS)
    # Recorded from the stream: no tick asked REST for this order's trades.
    asked = [r for r in rest.received("GET", "/fapi/v1/userTrades") if r.params.get("orderId") == order.exchange_order_id]  # fmt: skip
    assert asked == []

    streams.stop()  # ticks go on over REST; health and the dashboard say so
    _wait(lambda: _health_feed(server, "BTCUSDT") == "rest", 20, "a tick over REST")
    reads = len(rest.received("GET", "/fapi/v1/ticker/bookTicker"))
    _wait(
        lambda: len(rest.received("GET", "/fapi/v1/ticker/bookTicker")) > reads + 1, 15,
        "more REST ticks",
    )  # fmt: skip
    page.wait_for_selector('[data-feed="BTCUSDT"][data-feed-source="rest"]')
    assert "degraded" in page.inner_text('[data-feed="BTCUSDT"]')
    assert "degraded" in page.inner_text('[data-check="streams"]')

    streams.start()  # back to streaming
    page.wait_for_selector('[data-feed="BTCUSDT"][data-feed-source="stream"]', timeout=40_000)
    assert _health_feed(server, "BTCUSDT") == "stream"
