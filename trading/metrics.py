"""Trading metrics for Prometheus.

Two kinds:
- Live instruments (prometheus_client) updated where things happen: tick duration, ticks
  and tick errors per symbol, exchange attempts by action and outcome, the exchange clock
  offset (exchanges/metrics.py). Each process has its own; with PROMETHEUS_MULTIPROC_DIR they are summed over
  the processes writing to that directory (docs/operations.md "Metrics").
- Read at scrape time from the database, so every process's work counts once: orders by
  source and final status, open position notional, realised and unrealised PnL today.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from django.db.models import Count, DecimalField, F, Sum
from django.utils import timezone
from prometheus_client import Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

TICK_DURATION = Histogram(
    "xquant_tick_duration_seconds",
    "Duration of one tick of a symbol.",
    ["symbol"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
TICKS = Counter("xquant_ticks", "Ticks run, per symbol.", ["symbol"])
TICK_ERRORS = Counter(
    "xquant_tick_errors",
    "Ticks that raised or were skipped (no market data), per symbol.",
    ["symbol"],
)
#: Every exchange call made for an order. Retries by cause are the outcomes
#: rate_limited, time_drift, unknown and error.
EXCHANGE_ATTEMPTS = Counter(
    "xquant_exchange_attempts", "Exchange calls for orders.", ["action", "outcome"]
)


def tick_measured(tick: Callable[..., Any]) -> Callable[..., Any]:
    """Times a tick function taking `symbol=` and returning a result with `.error`."""

    @functools.wraps(tick)
    def measured(*args: Any, symbol: str, **kwargs: Any) -> Any:
        started = time.perf_counter()
        failed = True
        try:
            result = tick(*args, symbol=symbol, **kwargs)
            failed = bool(getattr(result, "error", ""))
            return result
        finally:
            TICK_DURATION.labels(symbol).observe(time.perf_counter() - started)
            TICKS.labels(symbol).inc()
            if failed:
                TICK_ERRORS.labels(symbol).inc()

    return measured


def exchange_attempt(action: str, outcome: str) -> None:
    EXCHANGE_ATTEMPTS.labels(action, outcome).inc()


_MONEY = DecimalField(max_digits=30, decimal_places=12)


class TradingCollector:
    """The database-derived metrics, read at each scrape (a few aggregate queries)."""

    def describe(self) -> list:
        return []  # nothing queried at registration

    def collect(self):
        from trading.models import TERMINAL_STATUSES, Order, Position, RealizedPnlHour
        from trading.selectors import risk_limits_get
        from trading.services.risk import trading_day_start

        orders = CounterMetricFamily(
            "xquant_orders", "Orders that reached a final status.", labels=["source", "status"]
        )
        for row in (
            Order.objects.filter(status__in=TERMINAL_STATUSES)
            .values("source", "status")
            .annotate(n=Count("id"))
            .order_by()
        ):
            orders.add_metric([row["source"], row["status"]], row["n"])
        yield orders

        notional = GaugeMetricFamily(
            "xquant_open_position_notional",
            "Absolute notional of open positions at their mark (entry when unmarked).",
            labels=["exchange", "symbol", "position_side"],
        )
        unrealized = GaugeMetricFamily(
            "xquant_unrealized_pnl", "Unrealised PnL of open positions.", labels=["exchange"]
        )
        totals: dict[str, float] = {}
        for position in Position.objects.exclude(quantity=0):
            price = position.mark_price or position.entry_price
            notional.add_metric(
                [position.exchange, position.symbol, position.position_side],
                float(abs(position.quantity) * price),
            )
            totals[position.exchange] = totals.get(position.exchange, 0.0) + float(
                position.unrealized_pnl
            )
        for exchange, total in totals.items():
            unrealized.add_metric([exchange], total)
        yield notional
        yield unrealized

        realized = GaugeMetricFamily(
            "xquant_realized_pnl_today",
            "Realised PnL net of fees since the trading day's reset hour.",
            labels=["exchange"],
        )
        day_start = trading_day_start(timezone.now(), risk_limits_get().day_reset_hour_utc)
        for row in (
            RealizedPnlHour.objects.filter(hour__gte=day_start)
            .values("exchange")
            .annotate(total=Sum(F("realized_net"), output_field=_MONEY))
            .order_by()
        ):
            realized.add_metric([row["exchange"]], float(row["total"]))
        yield realized
