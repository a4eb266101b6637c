"""Read-side queries shared by the admin, the API and the dashboard."""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet

from trading.models import RiskLimits, StrategyConfig


def strategy_list(
    *, symbol: str | None = None, active: bool | None = None
) -> QuerySet[StrategyConfig]:
    queryset = StrategyConfig.objects.all()
    if symbol is not None:
        queryset = queryset.filter(symbol=symbol)
    if active is not None:
        queryset = queryset.filter(is_active=active)
    return queryset


def risk_limits_get() -> RiskLimits:
    """The risk limits row, created from the RISK_* settings the first time it is read."""
    limits, _ = RiskLimits.objects.get_or_create(
        id=RiskLimits.SINGLETON_ID,
        defaults={
            "max_order_notional": settings.RISK_MAX_ORDER_NOTIONAL,
            "max_position_notional": settings.RISK_MAX_POSITION_NOTIONAL,
            "daily_loss_limit": settings.RISK_DAILY_LOSS_LIMIT,
            "day_reset_hour_utc": settings.RISK_DAY_RESET_HOUR_UTC,
        },
    )
    return limits
