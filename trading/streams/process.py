"""Building and running the stream process from settings (runstreams, `serve`)."""

from __future__ import annotations

import asyncio
import logging
import threading

from django.conf import settings

from exchanges.registry import get_exchange
from trading.streams.paper import PaperStreamRunner
from trading.streams.runner import StreamRunner, StreamSettings

logger = logging.getLogger("trading.streams")


def stream_settings() -> StreamSettings:
    return StreamSettings(
        stall_seconds=settings.STREAM_STALL_SECONDS,
        keepalive_seconds=settings.STREAM_LISTEN_KEY_KEEPALIVE_SECONDS,
    )


def streams_run(*, stop: threading.Event, symbols: list[str] | None = None) -> None:
    """Run the streams of settings.EXCHANGE until `stop` is set."""
    exchange = get_exchange()
    symbols = symbols or list(settings.TRADING_SYMBOLS)
    if exchange.name != "binance":
        PaperStreamRunner(exchange=exchange, symbols=symbols).run(stop)
        return
    runner = StreamRunner(
        exchange=exchange,
        symbols=symbols,
        api_key=settings.EXCHANGE_API_KEY,
        api_secret=settings.EXCHANGE_API_SECRET,
        base_url=settings.EXCHANGE_BASE_URL,
        stream_url=settings.EXCHANGE_STREAM_URL,
        config=stream_settings(),
    )
    asyncio.run(runner.run(stop))


def streams_start_thread() -> tuple[threading.Thread, threading.Event]:
    """The streams in a daemon thread of this process (embedded mode)."""
    stop = threading.Event()

    def target() -> None:
        try:
            streams_run(stop=stop)
        except Exception:
            logger.exception("the stream thread stopped; ticks poll REST")

    thread = threading.Thread(target=target, name="streams", daemon=True)
    thread.start()
    return thread, stop
