"""`manage.py runstreams`: the exchange's WebSocket streams in this process, until
SIGINT/SIGTERM: latest books for every process, closed candles, and order updates and
fills recorded as they happen (trading.streams)."""

from __future__ import annotations

import logging
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from trading.streams.process import streams_run
from xquant.metrics import exporter_start

logger = logging.getLogger("trading.streams")


class Command(BaseCommand):
    help = "Follow the exchange's market and user-data streams (REST stays the fallback)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--symbols", nargs="+", help="default: TRADING_SYMBOLS")
        parser.add_argument("--duration", type=float, help="stop after this many seconds")

    def handle(self, *args, symbols=None, duration=None, **options) -> None:
        symbols = [s.upper() for s in (symbols or settings.TRADING_SYMBOLS)]
        stop = threading.Event()

        def request_stop(signum, frame) -> None:
            logger.info("received %s; closing the streams", signal.Signals(signum).name)
            stop.set()

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        if duration:
            threading.Timer(duration, stop.set).start()
        exporter_start()
        streams_run(stop=stop, symbols=symbols)
        self.stdout.write("streams stopped")
