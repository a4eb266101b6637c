"""One trading tick of one symbol: market data → strategies → orders → exchange.

    snapshot → follow working orders (fills, status) → strategies (fed their order
    news) → intents → filters + risk → orders persisted together with the strategies'
    new state and the positions marked to the mid (one transaction) → submitted →
    events.

Orders and strategy state are committed together before anything is sent: a crash
after the commit leaves PENDING orders that are submitted (or, if stale, cancelled) on
restart, and a strategy never re-emits an intent it already turned into an order.
The caller holds the symbol's lock (trading.locks), so ticks of a symbol never overlap.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from exchanges.base import Exchange, MarketSnapshot
from exchanges.errors import ExchangeError
from trading.events import PositionUpdated, PriceTicked, StrategyStatusChanged, publish
from trading.metrics import tick_measured
from trading.models import (
    ActivityKind,
    Order,
    OrderSource,
    OrderStatus,
    StrategyConfig,
    StrategyStatus,
)
from trading.notifications import events as notice
from trading.notifications.services import notify
from trading.selectors import orders_working
from trading.selectors.risk import risk_state_get
from trading.selectors.tick import order_news, tick_strategies
from trading.services.activity import activity_record
from trading.services.orders import PreparedOrder, SendNow, order_prepare, order_save, orders_sync
from trading.services.strategy_manager import StrategyManager, StrategyRun
from trading.services.tick_records import (
    Heartbeat,
    heartbeat_record,
    order_news_consumed,
    positions_mark,
    strategy_errored,
    strategy_finished,
    strategy_states_save,
)
from trading.strategies.base import ExternalSignal
from trading.streams.feed import tick_snapshot
from xquant.logs import with_log_context

logger = logging.getLogger("trading.tick")
RUNNER = f"{socket.gethostname()}:{os.getpid()}"

#: Called with each order to send once the tick has committed (a Celery task, say); a
#: SendNow sends in this process, and the tick writes those orders already claimed.
Submitter = Callable[[Order], object]


@dataclass
class TickResult:
    symbol: str
    mid: Decimal | None = None
    orders: list[Order] = field(default_factory=list)
    duration_ms: float = 0.0
    error: str = ""


@tick_measured
@with_log_context("symbol")
def tick_run(
    *,
    symbol: str,
    exchange: Exchange,
    manager: StrategyManager,
    submit: Submitter,
    signal_source: Callable[[str], ExternalSignal | None] | None = None,
    on_snapshot: Callable[[MarketSnapshot], object] | None = None,
) -> TickResult:
    started = time.perf_counter()
    result = TickResult(symbol=symbol)
    try:
        snapshot = tick_snapshot(exchange=exchange, symbol=symbol)  # streamed book or REST
    except ExchangeError as exc:
        result.error = f"no market data: {exc.message}"
        logger.warning("%s tick skipped: %s", symbol, result.error)
        heartbeat_record(_beat(symbol, started, None, error=result.error))
        return result
    result.mid = snapshot.mid

    working = list(orders_working(exchange_name=exchange.name, symbol=symbol))
    risk_state = None
    if orders_sync(exchange=exchange, symbol=symbol, mark_price=snapshot.mid, working=working):
        # Fills moved positions (recorded at this tick's mid): the risk state is read
        # now, since a strategy whose order filled usually places the next.
        risk_state = risk_state_get(exchange_name=exchange.name, symbol=symbol)
    strategies = tick_strategies(symbol=symbol)
    paused = (
        strategies.paused
        if risk_state is None
        else f"kill switch engaged: {risk_state.kill_switch_reason}"
        if risk_state.kill_switch_engaged
        else None
    )
    runs = manager.run(
        symbol=symbol,
        snapshot=snapshot,
        signal_source=signal_source,
        versions=strategies.versions,
        news=order_news(symbol=symbol) if strategies.news_pending else [],
        paused=paused,
    )

    trading = any(run.intents or run.error or run.finished for run in runs)
    if trading and risk_state is None:
        risk_state = risk_state_get(exchange_name=exchange.name, symbol=symbol)
    try:
        prepared = [
            new for run in runs for new in _prepare_intents(run, exchange, snapshot, risk_state)
        ]
        if isinstance(submit, SendNow):
            claimed_at = timezone.now()
            for new in prepared:
                new.claim(claimed_at)
        # Orders and the states that produced them commit together, with the marks of
        # the symbol's books at this tick's mid (until then, and for this tick's risk
        # state, the books stand at the previous tick's mid, a second or so ago).
        with transaction.atomic():
            result.orders = [order_save(new.order) for new in prepared]
            status_changed = _strategies_save(
                runs, manager, beat=_beat(symbol, started, snapshot.mid)
            )
            marked = positions_mark(
                exchange=exchange.name, symbol=symbol, mark_price=snapshot.mid, now=timezone.now()
            )
    except Exception:
        # Nothing of this tick was kept: instances that moved ahead of the database
        # are rebuilt from it next time.
        for run in runs:
            manager.forget(run.config.pk)
        raise
    for new, order in zip(prepared, result.orders, strict=True):
        new.saved(order)
    for config_id in status_changed:
        _publish_strategy_status(config_id)

    for new, order in zip(prepared, result.orders, strict=True):
        if new.claimed and order is new.order:
            submit.send_claimed(order)
        elif order.status == OrderStatus.PENDING:  # the intent's earlier order, never sent
            submit(order)
    _log_and_publish(result, snapshot, marked)
    if on_snapshot is not None:
        on_snapshot(snapshot)
    result.duration_ms = (time.perf_counter() - started) * 1000
    return result


def _prepare_intents(
    run: StrategyRun, exchange: Exchange, snapshot: MarketSnapshot, risk_state
) -> list[PreparedOrder]:
    prepared = []
    for intent in run.intents:
        try:
            new = order_prepare(
                intent=intent,
                exchange=exchange,
                source=OrderSource.STRATEGY,
                strategy=run.config,
                reference_price=snapshot.mid,
                risk_state=risk_state,
            )
        except Exception as exc:
            logger.exception(
                "strategy %s: intent %s could not become an order", run.config.name, intent.key
            )
            run.error = f"intent {intent.key}: {type(exc).__name__}: {exc}"
            break
        prepared.append(new)
    return prepared


def _strategies_save(
    runs: list[StrategyRun], manager: StrategyManager, beat: Heartbeat
) -> list[int]:
    """Write what the strategies changed (new states, the rare errored or finished
    status, the order news they consumed) and the tick's heartbeat; the strategies whose
    status changed."""
    now = beat.now
    states, fed, status_changed = [], [], []
    for run in runs:
        config = run.config
        if run.error:
            strategy_errored(
                config_id=config.pk,
                error=run.error,
                now=now,
                state=run.new_state if run.halted else None,
                version=config.state_version + 1,
            )
        elif run.finished:
            strategy_finished(
                config_id=config.pk,
                state=run.new_state if run.new_state is not None else config.state,
                version=config.state_version + 1,
                now=now,
            )
        elif run.new_state is not None:
            # Under the symbol's lock nobody else writes this state: the version is ours.
            states.append((config.pk, run.new_state, config.state_version + 1))
            manager.remember(config, config.state_version + 1, run.new_state)
        if run.error or run.finished or run.pause_changed:
            status_changed.append(config.pk)
        if run.error or run.finished:
            manager.forget(config.pk)
        else:
            # The news fed to the strategy is consumed, unless the order moved on
            # meanwhile (a submission elsewhere): then the next tick feeds the newer state.
            fed.extend(run.fed)
    strategy_states_save(states=states, now=now)
    order_news_consumed(fed=fed)
    heartbeat_record(beat)
    return status_changed


def _beat(symbol: str, started: float, mid: Decimal | None, error: str = "") -> Heartbeat:
    return Heartbeat(
        symbol=symbol,
        now=timezone.now(),
        tick_ms=Decimal(str(round((time.perf_counter() - started) * 1000, 3))),
        runner=RUNNER,
        mid=mid,
        error=error,
    )


def _publish_strategy_status(config_id: int) -> None:
    config = StrategyConfig.objects.filter(pk=config_id).first()
    if config is not None:
        _record_strategy_status(config)
        publish(StrategyStatusChanged(config))
        notify(notice.strategy_notice(config))


def _record_strategy_status(config: StrategyConfig) -> None:
    paused = (config.state or {}).get("paused")
    if config.status == StrategyStatus.ERRORED:
        level, text = "error", f"{config.name} stopped: {config.last_error}"
    elif config.status == StrategyStatus.FINISHED:
        level, text = "info", f"{config.name} finished."
    elif paused:
        level, text = "warning", f"{config.name} paused: {paused['reason']}"
    else:
        level, text = "info", f"{config.name} resumed."
    activity_record(
        kind=ActivityKind.STRATEGY,
        level=level,
        symbol=config.symbol,
        strategy=config,
        message=text,
    )


def _log_and_publish(result: TickResult, snapshot: MarketSnapshot, marked) -> None:
    for order in result.orders:
        if order.status == OrderStatus.REJECTED:
            logger.info(
                "%s tick: %s %s %s refused [%s] %s",
                result.symbol,
                order.side,
                order.quantity,
                order.symbol,
                order.error_code,
                order.error_message,
            )
        else:
            logger.info(
                "%s tick: %s %s %s %s (%s) by %s",
                result.symbol,
                order.side,
                order.quantity,
                order.order_type,
                order.price or "",
                order.reason,
                order.strategy.name if order.strategy else "manual",
            )
    publish(
        PriceTicked(snapshot.symbol, snapshot.bid, snapshot.ask, snapshot.mid, snapshot.timestamp)
    )
    for position in marked:
        publish(PositionUpdated(position))
