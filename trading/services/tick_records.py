"""What a tick writes besides orders: position marks, strategy states, consumed order
news and its heartbeat."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import reduce

from django.db.models import F, Q

from trading.models import (
    Order,
    Position,
    StrategyConfig,
    StrategyPosition,
    StrategyStatus,
    TraderHeartbeat,
)


def positions_mark(
    *, exchange: str, symbol: str, mark_price: Decimal, now: datetime
) -> list[Position]:
    """Mark every open book of the symbol (strategies' and account) to the price; the
    open account positions, as marked."""
    marks = {
        "mark_price": mark_price,
        "marked_at": now,
        "unrealized_pnl": F("quantity") * (mark_price - F("entry_price")),
    }
    StrategyPosition.objects.filter(exchange=exchange, symbol=symbol).exclude(quantity=0).update(
        **marks
    )
    open_positions = Position.objects.filter(exchange=exchange, symbol=symbol).exclude(quantity=0)
    # Flat on the symbol (often: strategies trade in and out), nothing was marked to read.
    return list(open_positions) if open_positions.update(**marks) else []


def strategy_states_save(*, states: list[tuple[int, dict, int]], now: datetime) -> None:
    """(config id, state, new version) for each strategy whose state changed."""
    for pk, state, version in states:
        StrategyConfig.objects.filter(pk=pk).update(
            state=state, state_version=version, state_updated_at=now
        )


def strategy_errored(
    *, config_id: int, error: str, now: datetime, state: dict | None = None, version: int = 0
) -> None:
    """Errored; with `state` (a strategy that halted itself) also the state that says
    why, so its page does not show the state from before the last updates."""
    changes: dict = {"status": StrategyStatus.ERRORED, "last_error": error, "updated_at": now}
    if state is not None:
        changes |= {"state": state, "state_version": version, "state_updated_at": now}
    StrategyConfig.objects.filter(pk=config_id).update(**changes)


def strategy_finished(*, config_id: int, state: dict, version: int, now: datetime) -> None:
    """Finished with its last state: off, and its version moved on."""
    StrategyConfig.objects.filter(pk=config_id).update(
        status=StrategyStatus.FINISHED,
        is_active=False,
        state=state,
        state_version=version,
        state_updated_at=now,
        updated_at=now,
    )


def order_news_consumed(*, fed: list[tuple[int, str, Decimal]]) -> None:
    """Clear the news flag of orders whose news was fed ((order id, status, filled) as
    fed), unless they moved on since: then the next tick feeds the newer state."""
    if not fed:
        return
    as_fed = reduce(
        operator.or_,
        (Q(pk=pk, status=status, filled_quantity=filled) for pk, status, filled in fed),
    )
    Order.objects.filter(as_fed).update(strategy_update_pending=False)


@dataclass(frozen=True)
class Heartbeat:
    symbol: str
    now: datetime
    tick_ms: Decimal
    runner: str
    mid: Decimal | None
    error: str = ""


def heartbeat_record(beat: Heartbeat) -> None:
    """Count the tick and remember when, by whom, at what price (and the error, if any).
    Only the symbol's ticker writes its row (it holds the symbol's lock)."""
    changes: dict = {
        "last_tick_at": beat.now,
        "last_tick_ms": beat.tick_ms,
        "runner": beat.runner,
        "tick_count": F("tick_count") + 1,
    }
    if beat.mid is not None:
        changes["last_mid"] = beat.mid
    if beat.error:
        changes |= {"last_error": beat.error, "last_error_at": beat.now}
    if not TraderHeartbeat.objects.filter(symbol=beat.symbol).update(**changes):
        TraderHeartbeat.objects.bulk_create(
            [
                TraderHeartbeat(
                    symbol=beat.symbol,
                    last_tick_at=beat.now,
                    last_tick_ms=beat.tick_ms,
                    last_mid=beat.mid,
                    tick_count=1,
                    runner=beat.runner,
                    last_error=beat.error,
                    last_error_at=beat.now if beat.error else None,
                )
            ],
            ignore_conflicts=True,
        )
