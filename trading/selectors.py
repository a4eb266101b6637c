"""Read-side queries shared by the admin, the API and the dashboard."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import F, Prefetch, QuerySet
from django.utils import timezone

from trading.models import (
    Fill,
    FuturesSettings,
    Order,
    OrderAttempt,
    Position,
    RiskLimits,
    StrategyConfig,
    StrategyPosition,
    TraderHeartbeat,
)
from xquant.errors import NotFoundError

ZERO = Decimal("0")


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


# --- orders, fills, positions ---------------------------------------------------------


def order_list() -> QuerySet[Order]:
    """Orders newest first, with their strategy's name (one join, no per-row query)."""
    return Order.objects.annotate(strategy_name=F("strategy__name")).order_by("-created_at", "-id")


def order_get(*, order_id: int) -> Order:
    """One order with its attempts and fills; NotFoundError when there is none."""
    order = (
        order_list()
        .prefetch_related(
            Prefetch("attempts", queryset=OrderAttempt.objects.order_by("number")),
            Prefetch("fills", queryset=Fill.objects.order_by("executed_at", "id")),
        )
        .filter(pk=order_id)
        .first()
    )
    if order is None:
        raise NotFoundError(f"order {order_id} does not exist")
    return order


def fill_list() -> QuerySet[Fill]:
    return Fill.objects.annotate(client_order_id=F("order__client_order_id")).order_by(
        "-executed_at", "-id"
    )


def position_list(*, open_only: bool = False) -> QuerySet[Position]:
    """Positions per symbol and side. mark_price and unrealized_pnl are kept at the
    latest mid by every trading tick (marked_at says when)."""
    queryset = Position.objects.order_by("exchange", "symbol", "position_side")
    return queryset.exclude(quantity=0) if open_only else queryset


def strategy_position_list(*, strategy_id: int | None = None) -> QuerySet[StrategyPosition]:
    queryset = StrategyPosition.objects.annotate(strategy_name=F("strategy__name")).order_by(
        "strategy_id", "exchange", "symbol", "position_side"
    )
    if strategy_id is not None:
        queryset = queryset.filter(strategy_id=strategy_id)
    return queryset


def strategy_pnl(*, strategy: StrategyConfig) -> dict[str, Any]:
    """A strategy's PnL from its own fills: realised (net of fees), unrealised at the last
    mid, and per position."""
    positions = list(strategy_position_list(strategy_id=strategy.pk))
    realized = sum((p.realized_pnl for p in positions), ZERO)
    unrealized = sum((p.unrealized_pnl for p in positions), ZERO)
    return {
        "strategy_id": strategy.pk,
        "strategy_name": strategy.name,
        "realized_pnl": realized,
        "unrealized_pnl": unrealized,
        "fees_paid": sum((p.fees_paid for p in positions), ZERO),
        "total_pnl": realized + unrealized,
        "positions": positions,
    }


def strategy_get(*, strategy_id: int) -> StrategyConfig:
    strategy = StrategyConfig.objects.filter(pk=strategy_id).first()
    if strategy is None:
        raise NotFoundError(f"strategy {strategy_id} does not exist")
    return strategy


def futures_settings_list() -> QuerySet[FuturesSettings]:
    return FuturesSettings.objects.order_by("exchange", "symbol")


# --- trading loop ---------------------------------------------------------------------


def heartbeat_stale_after() -> timedelta:
    """A symbol whose last tick is older than this is stale: three tick intervals, but
    never under 30 s, so a slow tick under load is not an outage (as trader_health)."""
    return timedelta(seconds=max(30.0, 3 * settings.TICK_SECONDS))


def trader_heartbeats(
    *, symbols: list[str] | None = None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Last tick per configured symbol, and whether it is stale (or never happened)."""
    now = now or timezone.now()
    symbols = list(symbols if symbols is not None else settings.TRADING_SYMBOLS)
    stale_after = heartbeat_stale_after()
    beats = {b.symbol: b for b in TraderHeartbeat.objects.filter(symbol__in=symbols)}
    rows = []
    for symbol in symbols:
        beat = beats.get(symbol)
        if beat is None:
            rows.append({"symbol": symbol, "stale": True, "last_tick_at": None})
            continue
        age = (now - beat.last_tick_at).total_seconds()
        rows.append(
            {
                "symbol": symbol,
                "stale": now - beat.last_tick_at > stale_after,
                "last_tick_at": beat.last_tick_at,
                "age_seconds": round(age, 3),
                "tick_count": beat.tick_count,
                "last_error": beat.last_error,
            }
        )
    return rows
