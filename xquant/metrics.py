"""Prometheus metrics: the protected `/metrics` view and the exporter port of runtrader
and Celery workers.

Where each process's metrics are read (docs/operations.md "Metrics"):
- web (daphne): `GET /metrics`, with `Authorization: Bearer <METRICS_TOKEN>` or from an
  address in METRICS_ALLOWED_IPS; anybody else is refused (an empty token and list
  refuse everybody).
- `runtrader` and Celery workers: with METRICS_PORT set, a plain exporter on
  METRICS_ADDR:METRICS_PORT (default 127.0.0.1; docker-compose binds it on the private
  network only and publishes no port).
- A process that forks (Celery prefork, several daphne workers) sets
  PROMETHEUS_MULTIPROC_DIR to a directory of its own (one per container: the files are
  named by pid), and its view or exporter sums what every child wrote there.
The trading metrics read from the database (orders, positions, PnL) and the Celery
queue lengths are served by the web view only, so that each counts once.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)


def _multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def process_registry() -> CollectorRegistry:
    """This process's live metrics, or those of every process of the multiprocess dir."""
    if not _multiprocess():
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


class QueueCollector:
    """Tasks waiting in the Celery broker's queues (Redis lists), read at scrape time."""

    def describe(self) -> list:
        return []

    def collect(self):
        from celery import current_app

        family = GaugeMetricFamily(
            "xquant_celery_queue_length", "Tasks waiting in a Celery queue.", labels=["queue"]
        )
        if settings.REDIS_URL and not current_app.conf.task_always_eager:
            import redis

            client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2.0)
            try:
                for queue in _queue_names():
                    family.add_metric([queue], client.llen(queue))
            except redis.RedisError:
                logger.warning("cannot read the Celery queue lengths", exc_info=True)
            finally:
                client.close()
        yield family


def _queue_names() -> list[str]:
    from celery import current_app

    queues = current_app.conf.task_queues
    return sorted({q.name for q in queues} if queues else {current_app.conf.task_default_queue})


def _database_registry() -> CollectorRegistry:
    from trading.metrics import TradingCollector

    registry = CollectorRegistry(auto_describe=False)
    registry.register(TradingCollector())
    registry.register(QueueCollector())
    from trading.streams.health import StreamsCollector  # issue 19: feed state and age

    registry.register(StreamsCollector())
    return registry


def scrape_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    presented = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
    if token and presented and hmac.compare_digest(presented.encode(), token.encode()):
        return True
    if settings.METRICS_ALLOWED_IPS:
        try:
            address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
        except ValueError:
            return False
        return any(address in network for network in _networks())
    return False


def _networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(n, strict=False) for n in settings.METRICS_ALLOWED_IPS]


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not scrape_allowed(request):
        return HttpResponse(
            "metrics need a bearer token (METRICS_TOKEN) or an allowed address\n",
            status=403,
            content_type="text/plain",
        )
    body = generate_latest(process_registry()) + generate_latest(_database_registry())
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


def exporter_start(*, port: int | None = None, addr: str | None = None):
    """Serve this process's metrics on a port of its own (runtrader, Celery worker);
    returns the server, or None when METRICS_PORT is not set."""
    port = settings.METRICS_PORT if port is None else port
    if port is None:
        return None
    server, _ = start_http_server(
        port, addr=addr or settings.METRICS_ADDR, registry=process_registry()
    )
    logger.info("metrics exporter on %s:%d", *server.server_address[:2])
    return server
