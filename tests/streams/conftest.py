"""Fixtures of the stream tests: the WebSocket emulator beside the REST one, and the
stream runner (real ccxt.pro) in a thread of the test process."""

from __future__ import annotations

import asyncio
import faulthandler
import threading
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from exchanges.base import OrderRequest
from tests.conftest import wait_for
from tests.exchanges.conftest import _loopback_only  # noqa: F401 (autouse: loopback only)
from tests.factories import OrderFactory
from tests.trading.conftest import dashboard_events  # noqa: F401 (fixture)
from tests.trading.test_dashboard_browser import browser_page  # noqa: F401 (fixture)
from tests.trading.test_notifications import embedded, receiver  # noqa: F401 (fixtures)
from trading.models import Order, OrderStatus

SYMBOLS = ["BTCUSDT", "ETHUSDT"]


class StreamHarness:
    """A StreamRunner on the emulators, started and stopped by the test."""

    def __init__(self, rest, ws):
        self.rest, self.ws = rest, ws
        self.runner = None
        self._thread: threading.Thread | None = None
        self._stop: threading.Event | None = None
        self.applied: list = []

    def start(self, **config) -> StreamHarness:
        from exchanges.registry import get_exchange
        from trading.streams.runner import StreamRunner, StreamSettings

        settings = StreamSettings(
            stall_seconds=1.5,
            keepalive_seconds=1.0,
            backoff_base_seconds=0.05,
            backoff_cap_seconds=0.4,
            flush_seconds=0.05,
            # The emulator's market is quiet unless a test pushes books.
            market_silence_seconds=60.0,
        )
        for name, value in config.items():
            setattr(settings, name, value)
        self.runner = StreamRunner(
            exchange=get_exchange(),
            symbols=SYMBOLS,
            api_key=self.rest.api_key,
            api_secret=self.rest.api_secret,
            base_url=self.rest.url,
            stream_url=self.ws.ws_url,
            config=settings,
            on_applied=lambda update, order: self.applied.append((update, order)),
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self.runner.run(self._stop)), daemon=True
        )
        self._thread.start()
        wait_for(lambda: self.ws.connected("private"), 10, "the user-data stream to connect")
        wait_for(lambda: self.runner.catch_ups >= 1, 10, "the first catch-up")
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(15)
            if self._thread.is_alive():
                # Where it hangs, for whoever reads the failure: every thread's stack.
                faulthandler.dump_traceback(all_threads=True)
            assert not self._thread.is_alive(), "the stream runner did not stop"
            self._thread = None


@pytest.fixture
def stream_emulator(binance_emulator_settings):
    from tests.binance_emulator.streams import StreamEmulator

    with StreamEmulator(binance_emulator_settings) as ws:
        yield ws


@pytest.fixture
def streams(binance_emulator_settings, stream_emulator, settings):
    settings.TRADING_SYMBOLS = SYMBOLS
    harness = StreamHarness(binance_emulator_settings, stream_emulator)
    yield harness
    harness.stop()


def resting_order(exchange, *, side: str = "BUY", price: str = "64000.0", qty: str = "0.010",
                  symbol: str = "BTCUSDT") -> Order:  # fmt: skip
    """A limit order resting on the emulator's book, recorded as ours (OPEN)."""
    cid = f"xq{uuid.uuid4().hex[:24]}"
    state = exchange.create_order(
        OrderRequest(symbol=symbol, side=side, order_type="LIMIT", quantity=Decimal(qty),
                     client_order_id=cid, price=Decimal(price))
    )  # fmt: skip
    return OrderFactory(
        exchange="binance", symbol=symbol, side=side, client_order_id=cid,
        exchange_order_id=state.exchange_order_id, status=OrderStatus.OPEN,
        quantity=Decimal(qty), price=Decimal(price), attempt_count=1,
        submitted_at=timezone.now(),
    )  # fmt: skip
