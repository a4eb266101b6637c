"""`manage.py serve`: the dashboard, API and websockets under daphne, in one process.

daphne is started programmatically rather than through its CLI so that work which
must share the web server's event loop (the embedded trading loop, whose events reach
the in-memory channel layer only inside this process) can be scheduled on it.
"""

from __future__ import annotations

import logging

from django.core.management.base import BaseCommand

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Serve xQuant (HTTP + websockets) with daphne."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, host: str, port: int, **options) -> None:
        # Importing daphne.server installs the asyncio Twisted reactor; it must happen
        # before anything else imports twisted.internet.reactor.
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server
        from django.conf import settings

        from xquant.asgi import application

        url = f"http://{host}:{port}/"

        def ready() -> None:
            logger.info("xQuant is serving at %s (exchange: %s)", url, settings.EXCHANGE)

        server = Server(
            application=application,
            endpoints=build_endpoint_description_strings(host=host, port=port),
            ready_callable=ready,
            verbosity=0,
        )
        server.run()
