"""Risk state for the guards, limits changes and the kill switch."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import DecimalField, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from exchanges.base import Exchange
from trading.models import ACTIVE_STATUSES, ActivityKind, Position, RealizedPnlHour, RiskLimits
from trading.notifications import events as notice
from trading.notifications.services import notify
from trading.risk import RiskState
from trading.selectors import risk_limits_get
from trading.services.activity import activity_record
from trading.services.audit import Actor, audit_record
from trading.services.tick_store import db_aware, db_decimal, db_value
from xquant import realtime
from xquant.errors import ValidationError
from xquant.sql import Result, Statement, batch_run, placeholders

logger = logging.getLogger("trading.risk")

ZERO = Decimal("0")
_SUM = {"output_field": DecimalField(max_digits=30, decimal_places=12)}


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
    only (the per-symbol guards look no further), the loss always account-wide.

    Every order placement reads this, so it is one round trip: the limits, the realised
    PnL of the last 25 hours by hour (today's part is picked once the reset hour is
    known), the unrealised PnL of all open positions, and the open positions and working
    orders (of the symbol)."""
    now = now or timezone.now()
    results = batch_run(risk_state_statements(exchange_name=exchange_name, symbol=symbol, now=now))
    state = risk_state_from(results, now=now)
    if state is None:  # first use: created from the RISK_* settings
        risk_limits_get()
        return risk_state_get(exchange_name=exchange_name, symbol=symbol, now=now)
    return state


def risk_state_statements(
    *, exchange_name: str, symbol: str | None = None, now: datetime
) -> list[Statement]:
    """The reads behind a risk state, to send alone or with others (risk_state_from);
    with `symbol`, its exposure only."""
    if symbol is None:
        exposure = (_EXPOSURE_SQL, [exchange_name, exchange_name, *_ACTIVE])
    else:
        exposure = (_SYMBOL_EXPOSURE_SQL, [exchange_name, symbol, exchange_name, symbol, *_ACTIVE])
    return [
        (_LIMITS_SQL, [RiskLimits.SINGLETON_ID]),
        (
            _REALIZED_HOURS_SQL,
            [exchange_name, db_value(RealizedPnlHour, "hour", now - timedelta(hours=25))],
        ),
        (_UNREALIZED_SQL, [exchange_name]),
        exposure,
    ]


def risk_state_from(results: list[Result], *, now: datetime) -> RiskState | None:
    """The risk state from the results of risk_state_statements; None before the limits
    row exists."""
    limits_row, hours, unrealized, exposure = results
    if not limits_row.rows:
        return None
    order_cap, position_cap, loss_cap, reset_hour, engaged, reason = limits_row.rows[0]
    day_start = trading_day_start(now, reset_hour)
    realized = sum(
        (db_decimal(amount) for hour, amount in hours.rows if db_aware(hour) >= day_start), ZERO
    )
    positions: dict[tuple[str, str], Decimal] = {}
    working: dict[tuple[str, str, str], Decimal] = defaultdict(lambda: ZERO)
    for kind, row_symbol, position_side, side, quantity, filled in exposure.rows:
        if kind == "position":
            positions[(row_symbol, position_side)] = db_decimal(quantity)
        else:  # subtracted here: SQLite would subtract floats
            working[(row_symbol, position_side, side)] += db_decimal(quantity) - db_decimal(filled)
    # A cap lowered in the environment applies at once, whatever the row still says.
    return RiskState(
        max_order_notional=min(db_decimal(order_cap), hard_cap("max_order_notional")),
        max_position_notional=min(db_decimal(position_cap), hard_cap("max_position_notional")),
        daily_loss_limit=min(db_decimal(loss_cap), hard_cap("daily_loss_limit")),
        kill_switch_engaged=bool(engaged),
        kill_switch_reason=reason,
        loss_today=-(realized + _unrealized_total(unrealized.rows[0][0])),
        positions=positions,
        working=dict(working),
    )


_PNL_PLACES = Decimal(1).scaleb(-Position._meta.get_field("unrealized_pnl").decimal_places)


def _unrealized_total(value) -> Decimal:
    total = db_decimal(value)
    # SQLite adds up floats: back to the column's places, which drops the float noise.
    return total.quantize(_PNL_PLACES) if isinstance(value, float) else total


_LIMITS_SQL = (
    "SELECT max_order_notional, max_position_notional, daily_loss_limit, day_reset_hour_utc, "
    "kill_switch_engaged, kill_switch_reason FROM trading_risklimits WHERE id = %s"
)
_REALIZED_HOURS_SQL = (
    "SELECT hour, realized_net FROM trading_realizedpnlhour WHERE exchange = %s AND hour >= %s"
)
_ACTIVE = sorted(ACTIVE_STATUSES)
# Open positions and working orders; each kind is small (open only), and a tick asks
# for one symbol's.
_POSITIONS_EXPOSURE = (
    "SELECT 'position', symbol, position_side, '', quantity, 0 FROM trading_position "
    "WHERE exchange = %s AND quantity <> 0"
)
_ORDERS_EXPOSURE = (
    "SELECT 'order', symbol, position_side, side, quantity, filled_quantity FROM trading_order "
    "WHERE exchange = %s"
)
_ACTIVE_ONLY = f" AND status IN ({placeholders(_ACTIVE)})"
_EXPOSURE_SQL = f"{_POSITIONS_EXPOSURE} UNION ALL {_ORDERS_EXPOSURE}{_ACTIVE_ONLY}"
_SYMBOL_EXPOSURE_SQL = (
    f"{_POSITIONS_EXPOSURE} AND symbol = %s UNION ALL "
    f"{_ORDERS_EXPOSURE} AND symbol = %s{_ACTIVE_ONLY}"
)
_UNREALIZED_SQL = (
    "SELECT COALESCE(SUM(unrealized_pnl), 0) FROM trading_position WHERE exchange = %s"
)


def kill_switch_statement() -> Statement:
    """Whether the kill switch is engaged and why, to read with a tick's view."""
    return (
        "SELECT kill_switch_engaged, kill_switch_reason FROM trading_risklimits WHERE id = %s",
        [RiskLimits.SINGLETON_ID],
    )


def kill_switch_from(result: Result) -> str | None:
    """From kill_switch_statement's result: why trading is paused, or None."""
    if not result.rows or not result.rows[0][0]:
        return None
    return f"kill switch engaged: {result.rows[0][1]}"


_LIMIT_FIELDS = ("max_order_notional", "max_position_notional", "daily_loss_limit")
#: Each editable limit's hard cap: the setting that names it.
HARD_CAPS = {
    "max_order_notional": "RISK_HARD_MAX_ORDER_NOTIONAL",
    "max_position_notional": "RISK_HARD_MAX_POSITION_NOTIONAL",
    "daily_loss_limit": "RISK_HARD_MAX_DAILY_LOSS",
}


def hard_cap(name: str) -> Decimal:
    from django.conf import settings

    return getattr(settings, HARD_CAPS[name])


def risk_limit_problem(name: str, value: Any) -> str | None:
    """Why `value` cannot be the limit `name` (None when it can): a positive, finite
    amount of USDT no higher than the limit's hard cap from the environment."""
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        return f"Must be a positive amount of USDT (got {value})."
    if not amount.is_finite() or amount <= 0:
        return f"Must be a positive amount of USDT (got {value})."
    cap = hard_cap(name)
    if amount > cap:
        return (
            f"{amount} is above the hard cap of {cap} USDT ({HARD_CAPS[name]}); "
            f"allowed: more than 0 and at most {cap}."
        )
    return None


def _limits_audited(limits: RiskLimits) -> dict[str, Any]:
    return {name: getattr(limits, name) for name in (*_LIMIT_FIELDS, "day_reset_hour_utc")}


def _kill_switch_audited(limits: RiskLimits) -> dict[str, Any]:
    return {"engaged": limits.kill_switch_engaged, "reason": limits.kill_switch_reason}


@transaction.atomic
def risk_limits_update(*, actor: Actor | None = None, **changes: Any) -> RiskLimits:
    """Change one or more limits. Values must be positive; the reset hour 0-23."""
    limits = risk_limits_get()
    limits = RiskLimits.objects.select_for_update().get(pk=limits.pk)
    before = _limits_audited(limits)
    errors: dict[str, list[str]] = {}
    for name, value in changes.items():
        if name in _LIMIT_FIELDS:
            problem = "Required." if value is None else risk_limit_problem(name, value)
            if problem:
                errors[name] = [problem]
            else:
                setattr(limits, name, Decimal(str(value)))
        elif name == "day_reset_hour_utc":
            if not isinstance(value, int) or not 0 <= value <= 23:
                errors[name] = [f"Must be an hour from 0 to 23 (got {value})."]
            else:
                limits.day_reset_hour_utc = value
        else:
            errors[name] = ["Not a risk limit."]
    if errors:
        raise ValidationError(
            "Invalid risk limits: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()),
            extra={"fields": errors},
        )
    limits.save()
    if actor is not None:
        audit_record(
            actor=actor,
            action="risk_limits.update",
            target="risk limits",
            before=before,
            after=_limits_audited(limits),
        )
    logger.info("risk limits changed: %s", ", ".join(f"{k}={v}" for k, v in changes.items()))
    transaction.on_commit(
        lambda: realtime.publish(
            realtime.DASHBOARD_GROUP, "risk.limits", risk_limits_payload(limits)
        )
    )
    return limits


def risk_limits_payload(limits: RiskLimits) -> dict[str, Any]:
    return {
        "max_order_notional": limits.max_order_notional,
        "max_position_notional": limits.max_position_notional,
        "daily_loss_limit": limits.daily_loss_limit,
        "day_reset_hour_utc": limits.day_reset_hour_utc,
        "kill_switch_engaged": limits.kill_switch_engaged,
        "kill_switch_reason": limits.kill_switch_reason,
        "kill_switch_changed_at": limits.kill_switch_changed_at,
    }


def kill_switch_engage(
    *, reason: str, exchange: Exchange, actor: Actor | None = None
) -> dict[str, Any]:
    """Stop all trading now: refuse every new order and cancel every open order.

    The flag is committed first, so no tick can place an order while the cancels run.
    Returns what was cancelled and what could not be (with why).
    """
    from trading.services.orders import orders_cancel_all

    with transaction.atomic():
        limits = RiskLimits.objects.select_for_update().get(pk=risk_limits_get().pk)
        before = _kill_switch_audited(limits)
        limits.kill_switch_engaged = True
        limits.kill_switch_reason = reason.strip()[:200] or "engaged"
        limits.kill_switch_changed_at = timezone.now()
        limits.save()
        if actor is not None:
            audit_record(
                actor=actor,
                action="kill_switch.engage",
                target="kill switch",
                before=before,
                after=_kill_switch_audited(limits),
            )
    logger.warning("KILL SWITCH ENGAGED: %s", limits.kill_switch_reason)
    activity_record(
        kind=ActivityKind.KILL_SWITCH,
        level="error",
        message=f"Kill switch engaged: {limits.kill_switch_reason}",
    )
    result = orders_cancel_all(
        exchange=exchange, reason=f"kill switch: {limits.kill_switch_reason}"
    )
    realtime.publish(
        realtime.DASHBOARD_GROUP,
        "risk.kill_switch",
        {**risk_limits_payload(limits), "canceled": result["canceled"], "failed": result["failed"]},
    )
    notify(
        notice.kill_switch_notice(limits, canceled=result["canceled"], failed=len(result["failed"]))
    )
    return {"engaged": True, "reason": limits.kill_switch_reason, **result}


def kill_switch_release(*, reason: str = "", actor: Actor | None = None) -> RiskLimits:
    with transaction.atomic():
        limits = RiskLimits.objects.select_for_update().get(pk=risk_limits_get().pk)
        before = _kill_switch_audited(limits)
        limits.kill_switch_engaged = False
        limits.kill_switch_reason = reason.strip()[:200]
        limits.kill_switch_changed_at = timezone.now()
        limits.save()
        if actor is not None:
            audit_record(
                actor=actor,
                action="kill_switch.release",
                target="kill switch",
                before=before,
                after=_kill_switch_audited(limits),
            )
    logger.warning("kill switch released%s", f": {reason}" if reason else "")
    activity_record(
        kind=ActivityKind.KILL_SWITCH,
        message="Kill switch released" + (f": {limits.kill_switch_reason}" if reason else ""),
    )
    realtime.publish(realtime.DASHBOARD_GROUP, "risk.kill_switch", risk_limits_payload(limits))
    notify(notice.kill_switch_notice(limits))
    return limits
