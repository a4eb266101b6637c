"""Exchange metrics for Prometheus (see xquant/metrics.py for where they are served)."""

from __future__ import annotations

from prometheus_client import Gauge

CLOCK_OFFSET = Gauge(
    "xquant_exchange_clock_offset_seconds",
    "Exchange clock minus ours, as last measured.",
    ["exchange"],
    multiprocess_mode="mostrecent",
)


def clock_offset(exchange: str, offset_ms: int) -> None:
    CLOCK_OFFSET.labels(exchange).set(offset_ms / 1000)


REQUEST_WEIGHT_USED = Gauge(
    "xquant_exchange_request_weight_used",
    "Request weight used in the exchange's current window, as its last answer said.",
    ["exchange"],
    multiprocess_mode="mostrecent",
)


def request_weight_used(exchange: str, used: int) -> None:
    REQUEST_WEIGHT_USED.labels(exchange).set(used)
