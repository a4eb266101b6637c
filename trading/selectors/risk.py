"""What the risk guards read: the limits, today's loss, the exposure, the kill switch."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import DecimalField, F, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from trading.models import ACTIVE_STATUSES, Order, Position, RealizedPnlHour, RiskLimits
from trading.risk import RiskState

ZERO = Decimal("0")
_SUM = {"output_field": DecimalField(max_digits=30, decimal_places=12)}


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


#: Each editable limit's hard cap: the setting that names it.
HARD_CAPS = {
    "max_order_notional": "RISK_HARD_MAX_ORDER_NOTIONAL",
    "max_position_notional": "RISK_HARD_MAX_POSITION_NOTIONAL",
    "daily_loss_limit": "RISK_HARD_MAX_DAILY_LOSS",
}


def hard_cap(name: str) -> Decimal:
    return getattr(settings, HARD_CAPS[name])


def trading_day_start(now: datetime, reset_hour_utc: int) -> datetime:
    """Start of the trading day that contains `now` (UTC), which begins at the reset hour."""
    now = now.astimezone(UTC)
    start = now.replace(hour=reset_hour_utc, minute=0, second=0, microsecond=0)
    return start if start <= now else start - timedelta(days=1)


def loss_today(*, exchange_name: str, limits: RiskLimits, now: datetime | None = None) -> Decimal:
    """Today's loss as a positive number: realised PnL net of fees since the day started,
    plus the unrealised PnL of the open positions (marked at the last mid)."""
    day_start = trading_day_start(now or timezone.now(), limits.day_reset_hour_utc)
    realized = RealizedPnlHour.objects.filter(
        exchange=exchange_name, hour__gte=day_start
    ).aggregate(total=Coalesce(Sum("realized_net", **_SUM), ZERO, **_SUM))["total"]
    unrealized = Position.objects.filter(exchange=exchange_name).aggregate(
        total=Coalesce(Sum("unrealized_pnl", **_SUM), ZERO, **_SUM)
    )["total"]
    return -(realized + unrealized)


def risk_state_get(
    *, exchange_name: str, symbol: str | None = None, now: datetime | None = None
) -> RiskState:
    """What the guards need; with `symbol`, positions and working orders of that symbol
    only (the per-symbol guards look no further), the loss always account-wide."""
    now = now or timezone.now()
    limits = risk_limits_get()
    positions = Position.objects.filter(exchange=exchange_name).exclude(quantity=0)
    orders = Order.objects.filter(exchange=exchange_name, status__in=ACTIVE_STATUSES)
    if symbol is not None:
        positions, orders = positions.filter(symbol=symbol), orders.filter(symbol=symbol)
    working: dict[tuple[str, str, str], Decimal] = defaultdict(lambda: ZERO)
    for row_symbol, position_side, side, remaining in orders.values_list(
        "symbol", "position_side", "side", F("quantity") - F("filled_quantity")
    ):
        working[(row_symbol, position_side, side)] += remaining
    # A cap lowered in the environment applies at once, whatever the row still says.
    return RiskState(
        max_order_notional=min(limits.max_order_notional, hard_cap("max_order_notional")),
        max_position_notional=min(limits.max_position_notional, hard_cap("max_position_notional")),
        daily_loss_limit=min(limits.daily_loss_limit, hard_cap("daily_loss_limit")),
        kill_switch_engaged=limits.kill_switch_engaged,
        kill_switch_reason=limits.kill_switch_reason,
        loss_today=loss_today(exchange_name=exchange_name, limits=limits, now=now),
        positions={
            (row_symbol, side): quantity
            for row_symbol, side, quantity in positions.values_list(
                "symbol", "position_side", "quantity"
            )
        },
        working=dict(working),
    )


def kill_switch_paused() -> str | None:
    """Why trading is paused (the kill switch is engaged), or None."""
    engaged = (
        RiskLimits.objects.filter(pk=RiskLimits.SINGLETON_ID, kill_switch_engaged=True)
        .values_list("kill_switch_reason", flat=True)
        .first()
    )
    return None if engaged is None else f"kill switch engaged: {engaged}"
