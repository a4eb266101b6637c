"""`manage.py serve`: the dashboard, API and websockets under daphne, in one process.

daphne is started programmatically rather than through its CLI so that work which
must share the web server's event loop (the embedded trading loop, whose events reach
the in-memory channel layer only inside this process) can be scheduled on it.
"""

from __future__ import annotations

import logging

from django.core.management.base import BaseCommand

logger = logging.getLogger(__name__)
_background_tasks: set = set()


class Command(BaseCommand):
    help = "Serve xQuant (HTTP + websockets) with daphne."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--no-trader",
            action="store_true",
            help="serve only; run the trading loop elsewhere (runtrader, Celery beat)",
        )

    def handle(self, *args, host: str, port: int, no_trader: bool = False, **options) -> None:
        # Importing daphne.server installs the asyncio Twisted reactor; it must happen
        # before anything else imports twisted.internet.reactor.
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server
        from django.conf import settings

        from xquant.asgi import application

        url = f"http://{host}:{port}/"

        def ready() -> None:
            import asyncio

            from xquant import realtime

            realtime.bind_server_loop(asyncio.get_event_loop())
            logger.info("xQuant is serving at %s (exchange: %s)", url, settings.EXCHANGE)

        if not no_trader:
            from twisted.internet import reactor

            reactor.callWhenRunning(_start_embedded_trader)
            if settings.STREAMS_EMBEDDED:
                # Issue 19: the exchange streams (runstreams) in a thread of this process.
                from trading.streams.process import streams_start_thread

                reactor.callWhenRunning(streams_start_thread)

        server = Server(
            application=application,
            endpoints=build_endpoint_description_strings(host=host, port=port),
            ready_callable=ready,
            verbosity=0,
        )
        server.run()


def _start_embedded_trader() -> None:
    """Run the trading loop as a task on daphne's event loop.

    Each round runs in a worker thread (sync_to_async); the events it publishes are sent
    from there through async_to_sync, which hands them to this same loop, where the
    in-memory channel layer and the websocket consumers live.
    """
    import asyncio

    from asgiref.sync import sync_to_async
    from django.conf import settings

    from exchanges.registry import get_exchange
    from trading.services.signals import prediction_signal_source
    from trading.services.trader import Trader, publish_market_stream

    trader = Trader(
        exchange=get_exchange(),
        symbols=settings.TRADING_SYMBOLS,
        interval=settings.TICK_SECONDS,
        signal_source=prediction_signal_source(),
        on_snapshot=publish_market_stream,
    )

    async def loop() -> None:
        try:
            await sync_to_async(trader.start, thread_sensitive=False)()
        except Exception:
            logger.exception("trader start-up failed; trading loop not running")
            return
        while True:
            started = asyncio.get_running_loop().time()
            await sync_to_async(trader.run_round, thread_sensitive=False)()
            elapsed = asyncio.get_running_loop().time() - started
            await asyncio.sleep(max(0.0, trader.interval - elapsed))

    # The loop keeps only a weak reference to tasks: hold this one for the process's life.
    _background_tasks.add(asyncio.ensure_future(loop()))
    logger.info("trading loop started in the web server process")
