"""Health checks behind GET /api/health: database, Redis, exchange, trading loop,
prediction service.

Checks are pluggable: `health_check("name")` registers a function returning a
CheckResult (another app can add its own, or replace one by registering the same name).
A check never raises and never reveals a connection URL, host or secret: failures are
reported by kind ("cannot connect to Redis (ConnectionError)"), never by the exception
text of a client library, which often quotes the URL.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection

from trading.selectors import heartbeat_stale_after, trader_heartbeats
from xquant.errors import ApplicationError
from xquant.secrets import redact

logger = logging.getLogger("trading.health")

OK, FAILING, SKIPPED = "ok", "failing", "skipped"
#: Seconds a dependency has to answer the health check.
TIMEOUT_SECONDS = 2.0


@dataclass
class CheckResult:
    status: str
    message: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status, "message": self.message}
        if self.detail:
            body["detail"] = self.detail
        return body


Check = Callable[[], CheckResult]
_CHECKS: dict[str, Check] = {}


def health_check(name: str) -> Callable[[Check], Check]:
    """Register `fn` as the check called `name` (replacing any check of that name)."""

    def register(fn: Check) -> Check:
        _CHECKS[name] = fn
        return fn

    return register


def health_checks() -> dict[str, Check]:
    return dict(_CHECKS)


def _failure(what: str, exc: BaseException) -> CheckResult:
    # Our own errors carry messages written for people (redacted all the same); anything
    # else is named by its type only, because client libraries quote URLs in messages.
    if isinstance(exc, ApplicationError):
        return CheckResult(FAILING, redact(f"{what}: {exc.message}"), {"error": exc.code})
    return CheckResult(FAILING, f"{what} ({type(exc).__name__})", {"error": type(exc).__name__})


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    result = fn()
    return result, round((time.monotonic() - started) * 1000, 1)


@health_check("database")
def check_database() -> CheckResult:
    def ping() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    try:
        _, ms = _timed(ping)
    except Exception as exc:
        return _failure("cannot query the database", exc)
    return CheckResult(OK, "answers", {"vendor": connection.vendor, "latency_ms": ms})


@health_check("redis")
def check_redis() -> CheckResult:
    if not settings.REDIS_URL:
        return CheckResult(SKIPPED, "not configured (embedded mode: in-memory channel layer)")
    import redis

    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=TIMEOUT_SECONDS,
        socket_connect_timeout=TIMEOUT_SECONDS,
    )
    try:
        _, ms = _timed(client.ping)
    except Exception as exc:
        return _failure("cannot connect to Redis", exc)
    finally:
        client.close()
    return CheckResult(OK, "answers", {"latency_ms": ms})


@health_check("exchange")
def check_exchange() -> CheckResult:
    """One cheap public call: the book ticker of the first traded symbol."""
    try:
        from exchanges.registry import get_exchange

        exchange = get_exchange()
        symbol = settings.TRADING_SYMBOLS[0]
        snapshot, ms = _timed(lambda: exchange.market_snapshot(symbol))
    except Exception as exc:
        return _failure(f"the {settings.EXCHANGE} exchange does not answer", exc)
    return CheckResult(
        OK,
        "answers",
        {"exchange": exchange.name, "symbol": symbol, "mid": str(snapshot.mid), "latency_ms": ms},
    )


@health_check("trader")
def check_trader() -> CheckResult:
    """Every configured symbol ticked within the stale limit (3 tick intervals, ≥ 30 s)."""
    try:
        beats = trader_heartbeats()
    except Exception as exc:
        return _failure("cannot read the trading loop heartbeats", exc)
    symbols = {
        beat["symbol"]: {
            "last_tick_at": beat["last_tick_at"].isoformat() if beat["last_tick_at"] else None,
            "age_seconds": beat.get("age_seconds"),
            "stale": beat["stale"],
        }
        for beat in beats
    }
    stale = [beat["symbol"] for beat in beats if beat["stale"]]
    detail = {
        "stale_after_seconds": heartbeat_stale_after().total_seconds(),
        "symbols": symbols,
    }
    if stale:
        return CheckResult(FAILING, f"no recent tick for {', '.join(stale)}", detail)
    return CheckResult(OK, "every symbol ticked recently", detail)


@health_check("reconciliation")
def check_reconciliation() -> CheckResult:
    """What reconciliation could not settle yet (trading goes on meanwhile)."""
    from trading.models import ReconcileIssue

    try:
        issues = list(ReconcileIssue.objects.open()[:20])
    except Exception as exc:
        return _failure("cannot read the reconciliation issues", exc)
    if not issues:
        return CheckResult(OK, "record and exchange agree")
    detail = {
        "issues": [
            {
                "symbol": issue.symbol,
                "subject": issue.subject,
                "message": redact(issue.message),
                "since": issue.first_seen_at.isoformat(),
                "occurrences": issue.occurrences,
            }
            for issue in issues
        ]
    }
    first = issues[0]
    message = f"{len(issues)} need attention; {first.symbol} {first.subject}: {first.message}"
    return CheckResult(FAILING, redact(message), detail)


@health_check("prediction")
def check_prediction() -> CheckResult:
    """In-process by default; a remote service (PREDICTION_API_BASE_URL) must answer.

    Uses `prediction.client.health()` when that module provides it, else GET <base>/health.
    """
    base_url = settings.PREDICTION_API_BASE_URL
    if not base_url:
        return CheckResult(SKIPPED, "runs in-process (PREDICTION_API_BASE_URL is not set)")
    try:
        client = importlib.import_module("prediction.client")
    except ImportError:
        client = None
    probe = getattr(client, "health", None)
    try:
        if callable(probe):
            _, ms = _timed(probe)
        else:
            import httpx

            response, ms = _timed(
                lambda: httpx.get(f"{base_url.rstrip('/')}/health", timeout=TIMEOUT_SECONDS)
            )
            if response.status_code >= 400:
                return CheckResult(
                    FAILING,
                    f"the prediction service answered HTTP {response.status_code}",
                    {"mode": "remote", "http_status": response.status_code},
                )
    except Exception as exc:
        return _failure("the prediction service does not answer", exc)
    return CheckResult(OK, "answers", {"mode": "remote", "latency_ms": ms})


def health_report() -> dict[str, Any]:
    """Every check's result; status "failing" when any check fails."""
    results: dict[str, dict[str, Any]] = {}
    for name, check in health_checks().items():
        try:
            result = check()
        except Exception as exc:  # a check is not supposed to raise; never 500 for it
            logger.exception("health check %s raised", name)
            result = _failure(f"the {name} check itself failed", exc)
        results[name] = result.as_dict()
    failing = [name for name, result in results.items() if result["status"] == FAILING]
    return {"status": FAILING if failing else OK, "failing": failing, "checks": results}
