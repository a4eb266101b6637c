"""Celery tasks: thin wrappers around the trading services, owning their retry policy."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings

from exchanges.registry import get_exchange
from trading.locks import LockBusy, symbol_lock
from trading.models import Order
from trading.services.account import account_refresh
from trading.services.orders import order_submit
from trading.services.reconciliation import reconcile
from trading.services.signals import prediction_signal_source
from trading.services.strategy_manager import StrategyManager
from trading.services.tick import tick_run
from trading.services.trader import publish_market_stream

logger = logging.getLogger("trading.tasks")

# One manager per worker process keeps strategy instances between ticks; it checks the
# database version before reusing one, so ticks moving between workers stay correct.
_managers: dict[str, StrategyManager] = {}


_signal_source = None


def _signals():
    global _signal_source
    if _signal_source is None:
        _signal_source = prediction_signal_source()
    return _signal_source


def _manager(exchange) -> StrategyManager:
    manager = _managers.get(exchange.name)
    if manager is None or manager.exchange is not exchange:
        manager = _managers[exchange.name] = StrategyManager(exchange)
    return manager


@shared_task(name="trading.tick", ignore_result=True)
def tick(symbol: str) -> None:
    """One tick of a symbol; skipped (not queued) if the previous one still runs."""
    exchange = get_exchange()
    try:
        with symbol_lock(symbol, timeout=max(60.0, 10 * settings.TICK_SECONDS)):
            tick_run(
                symbol=symbol,
                exchange=exchange,
                manager=_manager(exchange),
                submit=lambda order: submit_order.delay(order.pk),
                signal_source=_signals(),
                on_snapshot=publish_market_stream,
            )
    except LockBusy:
        logger.info("%s: previous tick still running; this one is skipped", symbol)


# acks_late + reject_on_worker_lost: a worker that dies mid-submission leaves the task
# to be delivered again; order_submit then looks the SUBMITTING order up before sending.
@shared_task(
    name="trading.submit_order", acks_late=True, reject_on_worker_lost=True, ignore_result=True
)
def submit_order(order_id: int) -> None:
    order = Order.objects.get(pk=order_id)
    order_submit(order=order, exchange=get_exchange())


@shared_task(name="trading.reconcile", ignore_result=True)
def reconcile_task() -> None:
    exchange = get_exchange()
    reconcile(
        exchange=exchange,
        symbols=settings.TRADING_SYMBOLS,
        settle_after=timedelta(seconds=60),
    )
    # The account's balance with the same cadence: equity moves with every tick's marks
    # in between (trading.selectors.account_view).
    account_refresh(exchange=exchange)
