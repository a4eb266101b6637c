"""Read-side queries shared by the admin, the API and the dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import DecimalField, F, Max, Prefetch, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from trading.models import (
    AUDIT_ACTIONS,
    OPEN_STATUSES,
    AccountBalance,
    AuditEvent,
    Fill,
    FuturesSettings,
    Order,
    OrderAttempt,
    Position,
    StrategyConfig,
    StrategyPosition,
    TraderHeartbeat,
)
from trading.selectors.risk import risk_limits_get, trading_day_start
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


# --- orders, fills, positions ---------------------------------------------------------


@dataclass(frozen=True)
class OrderFilters:
    """What the dashboard's Orders page filters on; every field optional."""

    symbol: str | None = None
    status: str | None = None
    strategy_id: int | None = None
    side: str | None = None
    created_from: date | None = None
    #: Inclusive: the whole of that day (UTC).
    created_to: date | None = None


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def order_list(*, filters: OrderFilters | None = None) -> QuerySet[Order]:
    """Orders newest first, with their strategy's name (one join, no per-row query),
    narrowed by `filters`."""
    queryset = Order.objects.annotate(strategy_name=F("strategy__name")).order_by(
        "-created_at", "-id"
    )
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


def order_symbols() -> list[str]:
    """Symbols that have orders, and those the trader ticks: the Orders filter's choices."""
    traded = set(Order.objects.values_list("symbol", flat=True).distinct())
    return sorted(traded | set(settings.TRADING_SYMBOLS))


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


def fill_list(*, strategy_id: int | None = None, order_id: int | None = None) -> QuerySet[Fill]:
    queryset = Fill.objects.annotate(
        client_order_id=F("order__client_order_id"), strategy_name=F("strategy__name")
    ).order_by("-executed_at", "-id")
    if strategy_id is not None:
        queryset = queryset.filter(strategy_id=strategy_id)
    if order_id is not None:
        queryset = queryset.filter(order_id=order_id)
    return queryset


def position_list(
    *, open_only: bool = False, exchange_name: str | None = None
) -> QuerySet[Position]:
    """Positions per symbol and side. mark_price and unrealized_pnl are kept at the
    latest mid by every trading tick (marked_at says when)."""
    queryset = Position.objects.order_by("exchange", "symbol", "position_side")
    if exchange_name is not None:
        queryset = queryset.filter(exchange=exchange_name)
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


# --- the dashboard ----------------------------------------------------------------------


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
class PriceRow:
    symbol: str
    mid: Decimal | None
    at: datetime | None


def price_board() -> list[PriceRow]:
    """Last mid per traded symbol as the trader saw it; live events take over from here."""
    beats = {beat.symbol: beat for beat in TraderHeartbeat.objects.all()}
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


# --- account ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountView:
    """The account in its margin asset, now: the balance as last read from the exchange,
    with equity and available margin moved by the positions' unrealised PnL since (they
    are marked every tick)."""

    asset: str
    wallet_balance: Decimal
    unrealized_pnl: Decimal
    equity: Decimal
    used_margin: Decimal
    available: Decimal
    #: When the exchange was last asked; equity and unrealised are as of the last tick.
    fetched_at: datetime
    marked_at: datetime | None


def account_view(*, exchange_name: str, asset: str = "USDT") -> AccountView | None:
    """None before the first read of the exchange's balance."""
    balance = AccountBalance.objects.filter(exchange=exchange_name, asset=asset).first()
    if balance is None:
        return None
    positions = Position.objects.filter(exchange=exchange_name).exclude(quantity=0)
    totals = positions.aggregate(
        unrealized=Coalesce(Sum("unrealized_pnl", **_SUM), ZERO, **_SUM),
        marked_at=Max("marked_at"),
    )
    unrealized = totals["unrealized"]
    # What the exchange counted as unrealised when it was read is in its equity and
    # available already: only the move since is added.
    moved = unrealized - balance.unrealized_pnl
    return AccountView(
        asset=balance.asset,
        wallet_balance=balance.wallet_balance,
        unrealized_pnl=unrealized,
        equity=balance.wallet_balance + unrealized,
        used_margin=balance.used_margin,
        available=max(balance.available + moved, ZERO),
        fetched_at=balance.fetched_at,
        marked_at=totals["marked_at"],
    )


def orders_working(*, exchange_name: str, symbol: str) -> QuerySet[Order]:
    """The symbol's open orders (on the exchange or on their way), oldest first."""
    return Order.objects.filter(
        exchange=exchange_name, symbol=symbol, status__in=OPEN_STATUSES
    ).order_by("id")


def order_list_working(*, exchange_name: str) -> QuerySet[Order]:
    """Orders that may still fill (pending, being sent, open), oldest first."""
    from trading.models import ACTIVE_STATUSES

    return (
        Order.objects.filter(exchange=exchange_name, status__in=ACTIVE_STATUSES)
        .annotate(strategy_name=F("strategy__name"))
        .order_by("created_at", "id")
    )


@dataclass(frozen=True)
class AuditFilters:
    action: str = ""
    actor: str = ""
    target: str = ""
    since: datetime | None = None
    until: datetime | None = None


def audit_event_list(*, filters: AuditFilters = AuditFilters()) -> QuerySet[AuditEvent]:
    """The audit trail, newest first; `actor` and `target` match a part of the name."""
    events = AuditEvent.objects.all()
    if filters.action:
        events = events.filter(action=filters.action)
    if filters.actor:
        events = events.filter(actor_name__icontains=filters.actor)
    if filters.target:
        events = events.filter(target__icontains=filters.target)
    if filters.since:
        events = events.filter(at__gte=filters.since)
    if filters.until:
        events = events.filter(at__lt=filters.until)
    return events.order_by("-at", "-id")


def audit_actions() -> list[str]:
    """Every action the trail records, and any other it holds."""
    held = AuditEvent.objects.values_list("action", flat=True).distinct()
    return sorted({*AUDIT_ACTIONS, *held})
