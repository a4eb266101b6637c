"""Futures account settings: leverage and margin mode per symbol, position mode."""

from __future__ import annotations

import logging
from typing import Any

from django.utils import timezone

from exchanges.base import Exchange, SettingChange
from trading.models import FuturesSettings, MarginMode
from trading.services.audit import Actor, audit_record
from xquant.errors import ValidationError

logger = logging.getLogger("trading.futures")


def futures_settings_apply(
    *,
    exchange: Exchange,
    symbol: str,
    leverage: int | None = None,
    margin_mode: str | None = None,
    hedge: bool | None = None,
    actor: Actor | None = None,
) -> FuturesSettings:
    """Apply what is given (position mode is account-wide), persist and return the result.

    "No need to change" answers count as success: `detail` says which settings changed.
    """
    from django.conf import settings

    errors: dict[str, list[str]] = {}
    cap = settings.RISK_HARD_MAX_LEVERAGE
    if leverage is not None and not (isinstance(leverage, int) and 1 <= leverage <= cap):
        errors["leverage"] = [
            f"Leverage must be a whole number from 1 to {cap}, the hard cap "
            f"RISK_HARD_MAX_LEVERAGE (got {leverage})."
        ]
    if margin_mode is not None and margin_mode not in MarginMode.values:
        errors["margin_mode"] = [f"Margin mode must be isolated or cross (got {margin_mode!r})."]
    if errors:
        raise ValidationError(
            "Invalid futures settings: " + "; ".join(m for ms in errors.values() for m in ms),
            extra={"fields": errors},
        )
    exchange.symbol_rules(symbol)  # unknown symbol: a clear error before any change

    changes: list[SettingChange] = []
    if hedge is not None:
        changes.append(exchange.set_position_mode(hedge=hedge))
    if margin_mode is not None:
        changes.append(
            exchange.set_margin_mode(symbol, isolated=margin_mode == MarginMode.ISOLATED)
        )
    if leverage is not None:
        changes.append(exchange.set_leverage(symbol, leverage))

    current = FuturesSettings.objects.filter(exchange=exchange.name, symbol=symbol).first()
    settings_row = current or FuturesSettings(exchange=exchange.name, symbol=symbol)
    settings_row.leverage = leverage or (current.leverage if current else 1)
    settings_row.margin_mode = margin_mode or (current.margin_mode if current else MarginMode.CROSS)
    settings_row.hedge_mode = (
        hedge if hedge is not None else (current.hedge_mode if current else False)
    )
    settings_row.applied_at = timezone.now()
    settings_row.detail = {change.setting: _describe(change) for change in changes}
    settings_row.save()
    if actor is not None:
        audit_record(
            actor=actor,
            action="futures_settings.apply",
            target=f"futures settings {exchange.name} {symbol}",
            before=_futures_audited(current) if current else {},
            after={
                **_futures_audited(settings_row),
                "requested": {"leverage": leverage, "margin_mode": margin_mode, "hedge": hedge},
            },
        )
    logger.info(
        "%s futures settings: %s",
        symbol,
        ", ".join(
            f"{c.setting}={c.value} ({'changed' if c.changed else 'already so'})" for c in changes
        ),
    )
    return settings_row


def _describe(change: SettingChange) -> dict[str, Any]:
    return {"value": change.value, "changed": change.changed}


def _futures_audited(row: FuturesSettings) -> dict[str, Any]:
    return {"leverage": row.leverage, "margin_mode": row.margin_mode, "hedge": row.hedge_mode}
