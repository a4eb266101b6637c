"""The tick reads the streamed book while it is fresh and REST otherwise; stopping the
stream process shows in health and the metrics, starting it again returns to streaming;
closed klines reach the candle table (real ccxt.pro against the stream emulator)."""

from __future__ import annotations

import logging
import threading
import time
from decimal import Decimal

import pytest

from exchanges.registry import get_exchange
from prediction.models import Candle
from tests.conftest import wait_for
from tests.trading.test_notifications import settled, target
from trading.health import health_report
from trading.notifications.models import EventKind
from trading.services.orders import SendNow
from trading.services.strategy_manager import StrategyManager
from trading.services.tick import tick_run
from trading.streams import feed
from trading.streams.health import StreamsCollector, feed_report

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(90)]


@pytest.fixture(autouse=True)
def _fresh_notes(settings):
    settings.STREAM_BOOK_MAX_AGE_SECONDS = 1.0
    feed.notes_forget()
    yield
    feed.notes_forget()


class BookPusher:
    """Pushes a book every 50 ms, as a busy market does."""

    def __init__(self, ws, bid: str = "65100.0", ask: str = "65100.2"):
        self.ws, self.bid, self.ask = ws, bid, ask
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.ws.push_book("BTCUSDT", self.bid, self.ask)
            self.ws.push_book("ETHUSDT", "3510.00", "3510.01")
            self._stop.wait(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)


def _tick(exchange):
    return tick_run(
        symbol="BTCUSDT", exchange=exchange, manager=StrategyManager(exchange),
        submit=SendNow(exchange),
    )  # fmt: skip


def _book_reads(emulator) -> int:
    return len(emulator.received("GET", "/fapi/v1/ticker/bookTicker"))


def test_tick_reads_the_streamed_book_then_rest_when_the_streams_stop_then_streams_again(
    streams,
    binance_emulator_settings,
    caplog,
    embedded,
    receiver,
):
    emulator, exchange = binance_emulator_settings, get_exchange()
    target(receiver, kinds=[EventKind.STREAM_DOWN])
    pusher = BookPusher(streams.ws)
    try:
        streams.start()
        wait_for(lambda: feed_report()["live"], 10, "the market stream to be live")
        reads = _book_reads(emulator)

        result = _tick(exchange)
        assert result.mid == Decimal("65100.1")  # the streamed book, not REST's 65000.05
        assert _book_reads(emulator) == reads
        assert health_report()["checks"]["streams"]["status"] == "ok"

        streams.stop()  # the stream process goes away
        time.sleep(1.2)
        reads = _book_reads(emulator)  # the health check's exchange probe reads one too
        with caplog.at_level(logging.WARNING, logger="trading.streams"):
            first, second = _tick(exchange), _tick(exchange)
        assert first.mid == second.mid == Decimal("65000.05")  # REST's book
        assert _book_reads(emulator) == reads + 2
        warnings = [r for r in caplog.records if "polls REST" in r.getMessage()]
        assert len(warnings) == 1  # once per degradation, not per tick
        check = health_report()["checks"]["streams"]
        assert check["status"] == "degraded"
        assert "market stream down" in check["message"] and "BTCUSDT" in check["message"]
        assert check["detail"]["symbols"]["BTCUSDT"]["feed"] == "rest"
        (message,) = settled(receiver, 1)  # one notice for the degradation, not per tick
        assert message["title"] == "binance stream down: ticks poll REST"
        metrics = {m.name: m for m in StreamsCollector().collect()}
        assert [s.value for s in metrics["xquant_symbol_feed"].samples if s.labels["symbol"] == "BTCUSDT"] == [0.0]  # fmt: skip

        streams.start()  # and comes back
        wait_for(lambda: feed_report()["live"], 10, "the market stream to be live again")
        wait_for(lambda: _tick(exchange).mid == Decimal("65100.1"), 10, "the tick on the stream")
        check = health_report()["checks"]["streams"]
        assert check["status"] == "ok", check
        assert check["detail"]["symbols"]["BTCUSDT"]["feed"] == "stream"
    finally:
        pusher.stop()


def test_a_silent_market_stream_is_reconnected(streams):
    streams.start(market_silence_seconds=0.5)
    wait_for(
        lambda: streams.runner.states["market"].reconnects >= 1, 10, "a reconnection after silence"
    )
    assert "stalled" in streams.runner.states["market"].last_error


def test_closed_klines_are_stored_as_candles(streams):
    streams.start()
    wait_for(lambda: streams.ws.subscribed("btcusdt@kline_1m"), 10, "the kline subscription")
    open_ms = 1_700_000_040_000  # a minute boundary
    streams.ws.push_kline("BTCUSDT", open_ms, ("65000", "65010", "64990", "65005", "12.5"), closed=False)  # fmt: skip
    streams.ws.push_kline("BTCUSDT", open_ms, ("65000", "65020", "64980", "65001", "13.25"), closed=True)  # fmt: skip

    candle = wait_for(
        lambda: Candle.objects.filter(symbol="BTCUSDT", timeframe="1m").first(), 10, "the candle"
    )
    assert (candle.open, candle.high, candle.low, candle.close, candle.volume) == (
        Decimal("65000"), Decimal("65020"), Decimal("64980"), Decimal("65001"), Decimal("13.25"),
    )  # fmt: skip
    assert candle.source == "binance" and not candle.synthetic
    assert int(candle.open_time.timestamp() * 1000) == open_ms
    assert Candle.objects.count() == 1  # the open bar's updates are not stored


def test_bars_missed_while_disconnected_are_fetched_after_reconnecting(streams):
    from datetime import timedelta

    from django.utils import timezone

    from exchanges.base import Candle as Bar
    from prediction.services.candles import candles_store

    now = timezone.now().replace(second=0, microsecond=0)
    last = now - timedelta(minutes=5)
    bar = Bar(open_time=last, open=Decimal("1"), high=Decimal("1"), low=Decimal("1"),
              close=Decimal("1"), volume=Decimal("1"))  # fmt: skip
    candles_store(symbol="BTCUSDT", timeframe="1m", candles=[bar], source="binance")
    streams.start()

    stored = wait_for(
        lambda: Candle.objects.filter(symbol="BTCUSDT", timeframe="1m").count() >= 5,
        15,
        "the missed bars",
    )
    assert stored
    times = list(
        Candle.objects.filter(symbol="BTCUSDT", timeframe="1m").values_list("open_time", flat=True)
    )
    assert all(last <= t <= now for t in times) and len(times) == len(set(times))
    klines = streams.rest.received("GET", "/fapi/v1/klines")
    assert klines and all(r.params["symbol"] == "BTCUSDT" for r in klines)
