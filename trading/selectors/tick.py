"""What a tick reads about its symbol's strategies."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from trading.models import Order, StrategyConfig, StrategyStatus

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
