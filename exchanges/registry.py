"""The one place that picks the exchange: `get_exchange()`.

Instances are cached per process and per configuration: building one is cheap, but the
Binance connector holds connection pools, markets and the clock offset worth keeping.
Every exchange is thread-safe, so threads share the process's instance. The cache is
keyed by process id too, so a forked Celery worker never reuses its parent's
connections.
"""

from __future__ import annotations

import os
import threading

from django.conf import settings

from exchanges.base import Exchange

EXCHANGE_NAMES = ("paper", "dry-run", "binance")

_cache: dict[tuple, Exchange] = {}
_lock = threading.Lock()


def _configuration(name: str) -> tuple:
    """The settings an instance of `name` was built from (a change builds a new one)."""
    if name == "binance":
        return (
            settings.EXCHANGE_API_KEY,
            settings.EXCHANGE_API_SECRET,
            settings.EXCHANGE_BASE_URL,
            settings.EXCHANGE_TIMEOUT_SECONDS,
            settings.EXCHANGE_WEIGHT_BUDGET,
            settings.REDIS_URL,
        )
    return (
        settings.PAPER_FEED,
        settings.PAPER_SEED,
        settings.PAPER_STARTING_BALANCE,
        settings.PAPER_MAKER_FEE,
        settings.PAPER_TAKER_FEE,
        tuple(settings.TRADING_SYMBOLS),
    )


def _build(name: str) -> Exchange:
    if name == "paper":
        from exchanges.paper import PaperExchange

        return PaperExchange()
    if name == "dry-run":
        from exchanges.dry_run import DryRunExchange

        return DryRunExchange()
    from exchanges.binance import BinanceExchange

    return BinanceExchange()


def get_exchange(name: str | None = None) -> Exchange:
    """The exchange named `name`, or settings.EXCHANGE ("paper", "dry-run", "binance")."""
    name = name or settings.EXCHANGE
    if name not in EXCHANGE_NAMES:
        raise ValueError(f"unknown exchange {name!r}; choose one of {', '.join(EXCHANGE_NAMES)}")
    key = (name, os.getpid(), _configuration(name))
    exchange = _cache.get(key)
    if exchange is None:
        with _lock:
            exchange = _cache.get(key)
            if exchange is None:
                exchange = _cache[key] = _build(name)
    return exchange


def exchange_cache_clear() -> None:
    """Forget every instance (tests that change settings, or after closing them)."""
    with _lock:
        for exchange in _cache.values():
            exchange.close()
        _cache.clear()
