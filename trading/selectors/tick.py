"""What a tick reads about its symbol's strategies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Exists, OuterRef, Subquery

from trading.models import Order, RiskLimits, StrategyConfig, StrategyStatus

#: (id, updated_at, state_version) of an active strategy: enough to tell whether an
#: instance kept in memory is still current.
Version = tuple[int, datetime, int]
#: (order id, strategy id, intent key, side, status, filled quantity, average price,
#: error code).
News = tuple[int, int, str, str, str, Decimal, Decimal | None, str]


def _active(symbol: str):
    return StrategyConfig.objects.filter(symbol=symbol, is_active=True, status=StrategyStatus.OK)


def strategy_versions(*, symbol: str) -> list[Version]:
    """The symbol's active, healthy strategies, in name order."""
    return list(_active(symbol).order_by("name").values_list("id", "updated_at", "state_version"))


@dataclass(frozen=True)
class TickStrategies:
    versions: list[Version]
    #: Some of them have order news waiting (order_news reads it).
    news_pending: bool
    #: Why trading is paused (the kill switch is engaged), or None; only known when
    #: there are strategies, since without them there is nothing to pause.
    paused: str | None


# Built once: they do not depend on the symbol, and building them is a good part of
# the statement's cost (each use resolves a copy).
_HAS_ORDER_NEWS = Exists(
    Order.objects.filter(strategy=OuterRef("pk"), strategy_update_pending=True)
)
#: The reason when the kill switch is engaged, else NULL.
_KILL_SWITCH_REASON = Subquery(
    RiskLimits.objects.filter(pk=RiskLimits.SINGLETON_ID, kill_switch_engaged=True).values(
        "kill_switch_reason"
    )[:1]
)


def tick_strategies(*, symbol: str) -> TickStrategies:
    """What a tick needs before running the symbol's strategies: their versions (as
    strategy_versions), whether any has order news, and the kill switch. Read in one
    statement, since most ticks have no news and the switch is rarely engaged."""
    rows = list(
        _active(symbol)
        .annotate(news_pending=_HAS_ORDER_NEWS, kill_switch=_KILL_SWITCH_REASON)
        .order_by("name")
        .values_list("id", "updated_at", "state_version", "news_pending", "kill_switch")
    )
    reason = rows[0][4] if rows else None
    return TickStrategies(
        versions=[row[:3] for row in rows],
        news_pending=any(row[3] for row in rows),
        paused=None if reason is None else f"kill switch engaged: {reason}",
    )


def order_news(*, symbol: str) -> list[News]:
    """Orders with news for the symbol's active strategies, oldest first."""
    rows = (
        Order.objects.filter(strategy_update_pending=True, strategy__in=_active(symbol))
        .order_by("id")
        .values_list(
            "id",
            "strategy_id",
            "intent_key",
            "side",
            "status",
            "filled_quantity",
            "average_price",
            "error_code",
        )
    )
    return [(*row[:7], row[7] or "") for row in rows]


def strategies_load(*, ids: list[int]) -> dict[int, StrategyConfig]:
    """Full configs (params and state decoded)."""
    if not ids:
        return {}
    return StrategyConfig.objects.in_bulk(ids)
