"""`manage.py runtrader`: the trading loop in this process, until SIGINT/SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from exchanges.registry import get_exchange
from trading.services.signals import prediction_signal_source
from trading.services.trader import Trader, publish_market_stream
from xquant.metrics import exporter_start

logger = logging.getLogger("trading.trader")


class Command(BaseCommand):
    help = "Run the per-symbol trading tick loop (futures defaults and reconciliation at start)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--symbols", nargs="+", help="default: TRADING_SYMBOLS")
        parser.add_argument(
            "--exchange", choices=settings.EXCHANGE_CHOICES, help="default: EXCHANGE"
        )
        parser.add_argument(
            "--interval", type=float, help="seconds between ticks; default: TICK_SECONDS"
        )
        parser.add_argument("--once", action="store_true", help="one tick per symbol, then exit")
        parser.add_argument("--duration", type=float, help="stop after this many seconds")

    def handle(
        self,
        *args,
        symbols=None,
        exchange=None,
        interval=None,
        once=False,
        duration=None,
        **options,
    ):
        symbols = [s.upper() for s in (symbols or settings.TRADING_SYMBOLS)]
        interval = interval or settings.TICK_SECONDS
        if interval <= 0:
            raise CommandError("--interval must be positive")
        trader = Trader(
            exchange=get_exchange(exchange),
            symbols=symbols,
            interval=interval,
            signal_source=prediction_signal_source(),
            on_snapshot=publish_market_stream,
        )
        stop = threading.Event()

        def request_stop(signum, frame) -> None:
            logger.info("received %s; stopping after the current tick", signal.Signals(signum).name)
            stop.set()

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)

        exporter_start()
        report = trader.start()
        self.stdout.write(f"reconciliation at start: {report.summary()}")
        if once:
            for result in trader.run_round():
                self.stdout.write(
                    f"{result.symbol}: mid {result.mid}, {len(result.orders)} orders"
                    + (f", error: {result.error}" if result.error else "")
                )
            return
        trader.run_forever(stop=stop, duration=duration)
