"""Which feed each symbol is on, and how old it is: /api/health ("streams" check, shown
by the dashboard's health widget) and /metrics (xquant_stream_up, xquant_stream_age_seconds,
xquant_symbol_feed).

The check says "degraded" (not "failing": trading goes on over REST) when a stream
process has run for this exchange but its market stream is not live now, or when a
symbol's last tick read REST; "skipped" when no stream process ever ran here.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from prometheus_client.core import GaugeMetricFamily

from exchanges.streams import book
from trading.health import OK, SKIPPED, CheckResult, health_check
from trading.streams.feed import STREAM, STREAMED_EXCHANGES

DEGRADED = "degraded"
_STREAMS = (book.MARKET_STREAM, book.USER_STREAM)


def feed_report(*, exchange: str | None = None, symbols: list[str] | None = None) -> dict[str, Any]:
    """{"streams": {name: state…}, "symbols": {symbol: {"feed", "age_seconds"}}}."""
    exchange = exchange or settings.EXCHANGE
    symbols = symbols or list(settings.TRADING_SYMBOLS)
    now = time.time()
    max_age = settings.STREAM_BOOK_MAX_AGE_SECONDS
    streams: dict[str, dict] = {}
    for name in _STREAMS:
        state = book.stream_state(exchange, name)
        if state is None:
            continue
        age = state.age(now)
        current = state.state == book.UP and state.is_live(
            max(max_age, settings.STREAM_STALL_SECONDS), now
        )
        streams[name] = {
            # "stale": said up by a process that stopped writing (killed, frozen).
            "state": book.UP if current else ("stale" if state.state == book.UP else book.DOWN),
            "age_seconds": None if age is None else round(age, 1),
            "since": state.since,
            "reconnects": state.reconnects,
            "last_error": state.last_error,
        }
    market = book.stream_state(exchange, book.MARKET_STREAM)
    live = market is not None and market.is_live(max_age, now)
    notes = book.sources(exchange, symbols)
    per_symbol: dict[str, dict] = {}
    for symbol in symbols:
        note = notes.get(symbol)
        if note is None:
            feed = STREAM if live else ("rest" if market is not None else None)
            age = market.age(now) if live else None
        else:
            feed = note["source"]
            age = market.age(now) if feed == STREAM and market else now - note["at"]
        per_symbol[symbol] = {
            "feed": feed,
            "age_seconds": None if age is None else round(age, 1),
            "since": note["since"] if note else None,
        }
    return {"exchange": exchange, "live": live, "streams": streams, "symbols": per_symbol}


@health_check("streams")
def check_streams() -> CheckResult:
    try:
        report = feed_report()
    except Exception as exc:
        return CheckResult(DEGRADED, f"cannot read the stream state ({type(exc).__name__})")
    if not report["streams"]:
        return CheckResult(SKIPPED, "no stream process has run; ticks poll REST", report)
    on_rest = [s for s, v in report["symbols"].items() if v["feed"] != STREAM]
    down = [n for n, v in report["streams"].items() if v["state"] != book.UP]
    problems = []
    if not report["live"]:
        problems.append("market stream down")
    problems += [f"{name} stream down" for name in down if name != book.MARKET_STREAM]
    if on_rest:
        problems.append(f"ticks poll REST for {', '.join(on_rest)}")
    if problems:
        return CheckResult(DEGRADED, "degraded: " + "; ".join(problems), report)
    if report["exchange"] not in STREAMED_EXCHANGES:
        return CheckResult(
            OK, f"the {report['exchange']} feed's book is published (its ticks ask it)", report
        )
    return CheckResult(OK, "every symbol on the stream", report)


class StreamsCollector:
    """Stream state and age, and each symbol's feed, read at scrape time."""

    def describe(self) -> list:
        return []

    def collect(self):
        report = feed_report()
        up = GaugeMetricFamily(
            "xquant_stream_up", "1 while the stream is connected and live.", labels=["stream"]
        )
        age = GaugeMetricFamily(
            "xquant_stream_age_seconds", "Seconds since the stream last showed life.",
            labels=["stream"],
        )  # fmt: skip
        feed = GaugeMetricFamily(
            "xquant_symbol_feed",
            "The feed a symbol's tick used: 1 for the stream, 0 for REST polling.",
            labels=["symbol"],
        )
        feed_age = GaugeMetricFamily(
            "xquant_symbol_feed_age_seconds", "Age of the feed a symbol's tick used.",
            labels=["symbol", "feed"],
        )  # fmt: skip
        for name, state in report["streams"].items():
            up.add_metric([name], 1.0 if state["state"] == book.UP else 0.0)
            if state["age_seconds"] is not None:
                age.add_metric([name], state["age_seconds"])
        for symbol, value in report["symbols"].items():
            if value["feed"] is None:
                continue
            feed.add_metric([symbol], 1.0 if value["feed"] == STREAM else 0.0)
            if value["age_seconds"] is not None:
                feed_age.add_metric([symbol, value["feed"]], value["age_seconds"])
        yield up
        yield age
        yield feed
        yield feed_age
