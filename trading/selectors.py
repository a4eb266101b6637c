"""Read-side queries shared by the admin, the API and the dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import DecimalField, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from trading.models import (
    Fill,
    Order,
    Position,
    RiskLimits,
    StrategyConfig,
    StrategyPosition,
    TraderHeartbeat,
)
from xquant.errors import NotFoundError

ZERO = Decimal("0")
_SUM = {"output_field": DecimalField(max_digits=30, decimal_places=12)}


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


# --- dashboard reads ----------------------------------------------------------------


@dataclass(frozen=True)
class OrderFilters:
    """What the Orders page can filter on; every field optional."""

    symbol: str | None = None
    status: str | None = None
    strategy_id: int | None = None
    side: str | None = None
    created_from: date | None = None
    #: Inclusive: the whole of that day (UTC).
    created_to: date | None = None


def order_list(*, filters: OrderFilters | None = None) -> QuerySet[Order]:
    """Orders newest first, with their strategy, narrowed by `filters`."""
    queryset = Order.objects.select_related("strategy")
    if filters is None:
        return queryset
    if filters.symbol:
        queryset = queryset.filter(symbol=filters.symbol)
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.strategy_id is not None:
        queryset = queryset.filter(strategy_id=filters.strategy_id)
    if filters.side:
        queryset = queryset.filter(side=filters.side)
    if filters.created_from:
        queryset = queryset.filter(created_at__gte=_day_start(filters.created_from))
    if filters.created_to:
        queryset = queryset.filter(
            created_at__lt=_day_start(filters.created_to) + timedelta(days=1)
        )
    return queryset


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def order_get(*, order_id: int) -> Order:
    """One order with its strategy, attempts and fills; NotFoundError if there is none."""
    try:
        return (
            Order.objects.select_related("strategy")
            .prefetch_related("attempts", "fills")
            .get(pk=order_id)
        )
    except Order.DoesNotExist:
        raise NotFoundError(f"There is no order #{order_id}.") from None


def order_symbols() -> list[str]:
    """Symbols that have orders, and those the trader ticks: the Orders filter's choices."""
    traded = set(Order.objects.values_list("symbol", flat=True).distinct())
    return sorted(traded | set(settings.TRADING_SYMBOLS))


def strategy_get(*, strategy_id: int) -> StrategyConfig:
    try:
        return StrategyConfig.objects.get(pk=strategy_id)
    except StrategyConfig.DoesNotExist:
        raise NotFoundError(f"There is no strategy #{strategy_id}.") from None


def fill_list(
    *, strategy_id: int | None = None, symbol: str | None = None, order_id: int | None = None
) -> QuerySet[Fill]:
    """Fills newest first."""
    queryset = Fill.objects.select_related("strategy", "order")
    if strategy_id is not None:
        queryset = queryset.filter(strategy_id=strategy_id)
    if symbol is not None:
        queryset = queryset.filter(symbol=symbol)
    if order_id is not None:
        queryset = queryset.filter(order_id=order_id)
    return queryset


def position_list_open(*, exchange_name: str | None = None) -> QuerySet[Position]:
    queryset = Position.objects.exclude(quantity=0)
    if exchange_name is not None:
        queryset = queryset.filter(exchange=exchange_name)
    return queryset


def strategy_position_list(*, strategy: StrategyConfig) -> QuerySet[StrategyPosition]:
    """Every book of one strategy, flat ones included: they still hold its realised PnL."""
    return StrategyPosition.objects.filter(strategy=strategy)


def heartbeat_list() -> QuerySet[TraderHeartbeat]:
    return TraderHeartbeat.objects.all()


@dataclass(frozen=True)
class PnlToday:
    #: Realised since the trading day started, net of fees.
    realized: Decimal
    fees: Decimal
    #: Of the open positions now, marked at the last mid.
    unrealized: Decimal
    day_start: datetime

    @property
    def total(self) -> Decimal:
        return self.realized + self.unrealized


def pnl_today(*, exchange_name: str | None = None, now: datetime | None = None) -> PnlToday:
    """Today's PnL as the daily loss guard counts it (trading day from the reset hour)."""
    from trading.services.risk import trading_day_start

    limits = risk_limits_get()
    day_start = trading_day_start(now or timezone.now(), limits.day_reset_hour_utc)
    fills = Fill.objects.filter(executed_at__gte=day_start)
    positions = Position.objects.all()
    if exchange_name is not None:
        fills = fills.filter(exchange=exchange_name)
        positions = positions.filter(exchange=exchange_name)
    sums = fills.aggregate(
        gross=Coalesce(Sum("realized_pnl", **_SUM), ZERO, **_SUM),
        fees=Coalesce(Sum("fee", **_SUM), ZERO, **_SUM),
    )
    unrealized = positions.aggregate(total=Coalesce(Sum("unrealized_pnl", **_SUM), ZERO, **_SUM))[
        "total"
    ]
    return PnlToday(
        realized=sums["gross"] - sums["fees"],
        fees=sums["fees"],
        unrealized=unrealized,
        day_start=day_start,
    )


@dataclass(frozen=True)
class SymbolHealth:
    symbol: str
    heartbeat: TraderHeartbeat | None
    #: No tick for longer than three intervals (or never).
    stale: bool
    #: The latest tick failed (it stored its error at the same moment).
    failing: bool


@dataclass(frozen=True)
class Health:
    database_ok: bool
    database_error: str
    exchange_name: str
    symbols: list[SymbolHealth]
    kill_switch_engaged: bool
    kill_switch_reason: str

    @property
    def trader_ok(self) -> bool:
        return bool(self.symbols) and not any(s.stale for s in self.symbols)

    @property
    def exchange_ok(self) -> bool | None:
        """None when nothing ticked yet: the trader is the one that talks to the exchange."""
        seen = [s for s in self.symbols if s.heartbeat is not None and not s.stale]
        if not seen:
            return None
        return not any(s.failing for s in seen)

    @property
    def exchange_error(self) -> str:
        for s in self.symbols:
            if s.failing and s.heartbeat is not None:
                return s.heartbeat.last_error
        return ""


def stale_after_seconds() -> float:
    """The same threshold as `manage.py trader_health`."""
    return max(30.0, 3 * settings.TICK_SECONDS)


def health_get(*, now: datetime | None = None) -> Health:
    """Database, exchange (as the trader last saw it), trader heartbeat per symbol, and
    the kill switch: what the Overview's health widget shows."""
    now = now or timezone.now()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database_ok, database_error = True, ""
    except DatabaseError as exc:
        database_ok, database_error = False, str(exc)
        return Health(False, database_error, settings.EXCHANGE, [], False, "")
    beats = {beat.symbol: beat for beat in heartbeat_list()}
    cutoff = now - timedelta(seconds=stale_after_seconds())
    symbols = []
    for symbol in sorted(set(settings.TRADING_SYMBOLS) | set(beats)):
        beat = beats.get(symbol)
        symbols.append(
            SymbolHealth(
                symbol=symbol,
                heartbeat=beat,
                stale=beat is None or beat.last_tick_at < cutoff,
                failing=beat is not None
                and beat.last_error_at is not None
                and beat.last_error_at >= beat.last_tick_at,
            )
        )
    limits = risk_limits_get()
    return Health(
        database_ok=database_ok,
        database_error=database_error,
        exchange_name=settings.EXCHANGE,
        symbols=symbols,
        kill_switch_engaged=limits.kill_switch_engaged,
        kill_switch_reason=limits.kill_switch_reason,
    )


@dataclass(frozen=True)
class PriceRow:
    symbol: str
    mid: Decimal | None
    at: datetime | None


def price_board() -> list[PriceRow]:
    """Last mid per traded symbol as the trader saw it; live events take over from here."""
    beats = {beat.symbol: beat for beat in heartbeat_list()}
    return [
        PriceRow(
            symbol=symbol,
            mid=beats[symbol].last_mid if symbol in beats else None,
            at=beats[symbol].last_tick_at if symbol in beats else None,
        )
        for symbol in sorted(set(settings.TRADING_SYMBOLS) | set(beats))
    ]


@dataclass(frozen=True)
class StrategyPnl:
    realized: Decimal
    unrealized: Decimal

    @property
    def total(self) -> Decimal:
        return self.realized + self.unrealized


def strategy_pnl_by_id() -> dict[int, StrategyPnl]:
    """Per strategy, over all its books: realised (net of fees) and unrealised PnL."""
    rows = StrategyPosition.objects.values("strategy_id").annotate(
        realized=Coalesce(Sum("realized_pnl", **_SUM), ZERO, **_SUM),
        unrealized=Coalesce(Sum("unrealized_pnl", **_SUM), ZERO, **_SUM),
    )
    return {
        row["strategy_id"]: StrategyPnl(realized=row["realized"], unrealized=row["unrealized"])
        for row in rows
    }
