"""The paper account's settings: leverage and margin mode per symbol, and the position
mode (one-way or hedge), with Binance's refusals while positions or orders are open."""

from __future__ import annotations

from django.db import transaction

from exchanges.base import SettingChange
from exchanges.models import OPEN_ORDER_STATUSES, PaperOrder, PaperPosition
from exchanges.paper import accounting as acc
from exchanges.paper.account import Simulation, account_lock, symbol_setting


def position_mode_set(*, sim: Simulation, hedge: bool) -> SettingChange:
    now = sim.clock()
    value = "hedge" if hedge else "one-way"
    with transaction.atomic():
        account, _ = account_lock(sim=sim, now=now)
        if account.hedge_mode == hedge:
            return SettingChange("position_mode", value, changed=False)
        if (
            PaperPosition.objects.filter(account__name=sim.account_name)
            .exclude(quantity=0)
            .exists()
        ):
            raise acc.reject("-4068", "the position mode cannot change while positions are open")
        if PaperOrder.objects.filter(
            account__name=sim.account_name, status__in=OPEN_ORDER_STATUSES
        ).exists():
            raise acc.reject("-4067", "the position mode cannot change while orders are open")
        account.hedge_mode, account.updated_at = hedge, now
        account.save(update_fields=["hedge_mode", "updated_at"])
    return SettingChange("position_mode", value, changed=True)


def leverage_set(*, sim: Simulation, symbol: str, leverage: int) -> SettingChange:
    now = sim.clock()
    with transaction.atomic():
        account, _ = account_lock(sim=sim, now=now)
        current, isolated = symbol_setting(account, symbol)
        if current == leverage:
            return SettingChange("leverage", str(leverage), changed=False)
        account.symbol_settings = {
            **account.symbol_settings,
            symbol: {"leverage": leverage, "isolated": isolated},
        }
        account.updated_at = now
        account.save(update_fields=["symbol_settings", "updated_at"])
    return SettingChange("leverage", str(leverage), changed=True)


def margin_mode_set(*, sim: Simulation, symbol: str, isolated: bool) -> SettingChange:
    now = sim.clock()
    shown = "isolated" if isolated else "cross"
    with transaction.atomic():
        account, _ = account_lock(sim=sim, now=now)
        leverage, current = symbol_setting(account, symbol)
        if current == isolated:
            return SettingChange("margin_mode", shown, changed=False)
        if (
            PaperPosition.objects.filter(account__name=sim.account_name, symbol=symbol)
            .exclude(quantity=0)
            .exists()
        ):
            raise acc.reject(
                "-4048", f"the margin mode of {symbol} cannot change with a position open"
            )
        if PaperOrder.objects.filter(
            account__name=sim.account_name, symbol=symbol, status__in=OPEN_ORDER_STATUSES
        ).exists():
            raise acc.reject("-4047", f"the margin mode of {symbol} cannot change with orders open")
        account.symbol_settings = {
            **account.symbol_settings,
            symbol: {"leverage": leverage, "isolated": isolated},
        }
        account.updated_at = now
        account.save(update_fields=["symbol_settings", "updated_at"])
    return SettingChange("margin_mode", shown, changed=True)
