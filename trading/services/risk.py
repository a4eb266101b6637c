"""Risk state for the guards, limits changes and the kill switch."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import DecimalField
from django.utils import timezone

from exchanges.base import Exchange
from trading.events import KillSwitchChanged, RiskLimitsChanged, publish
from trading.models import (
    ActivityKind,
    RiskLimits,
)
from trading.notifications import events as notice
from trading.notifications.services import notify
from trading.selectors.risk import (  # noqa: F401 - read here by callers of the guards
    HARD_CAPS,
    hard_cap,
    kill_switch_paused,
    loss_today,
    risk_limits_get,
    risk_state_get,
    trading_day_start,
)
from trading.services.activity import activity_record
from trading.services.audit import Actor, audit_record
from trading.services.orders import orders_cancel_all
from xquant.errors import ValidationError

logger = logging.getLogger("trading.risk")

ZERO = Decimal("0")
_SUM = {"output_field": DecimalField(max_digits=30, decimal_places=12)}


_LIMIT_FIELDS = ("max_order_notional", "max_position_notional", "daily_loss_limit")


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
    transaction.on_commit(lambda: publish(RiskLimitsChanged(limits)))
    return limits


def kill_switch_engage(
    *, reason: str, exchange: Exchange, actor: Actor | None = None
) -> dict[str, Any]:
    """Stop all trading now: refuse every new order and cancel every open order.

    The flag is committed first, so no tick can place an order while the cancels run.
    Returns what was cancelled and what could not be (with why).
    """

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
    publish(KillSwitchChanged(limits, canceled=result["canceled"], failed=result["failed"]))
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
    publish(KillSwitchChanged(limits))
    notify(notice.kill_switch_notice(limits))
    return limits
