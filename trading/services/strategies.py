"""Creating, changing and switching strategy configs."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import ProtectedError

from trading.events import StrategyChanged, publish
from trading.models import StrategyConfig, StrategyKind, StrategyStatus
from trading.services.audit import Actor, audit_record
from trading.strategies.execution import state_without_halt
from trading.strategies.params import normalize_params
from xquant.errors import ConflictError, ValidationError


def _validate_symbol(symbol: str) -> str:
    symbol = symbol.strip().upper()
    if not settings.SYMBOL_PATTERN.match(symbol):
        raise ValidationError(
            f"Symbol {symbol!r} is not an exchange symbol such as BTCUSDT.",
            extra={"fields": {"symbol": ["Use the exchange symbol in capitals, e.g. BTCUSDT."]}},
        )
    return symbol


def symbol_require_traded(*, symbol: str) -> None:
    """An active strategy on a symbol the trading loop does not tick would wait forever
    ("On", "Not started"): refused, saying what is ticked and how to change it. An
    inactive one may be prepared on any symbol."""
    traded = settings.TRADING_SYMBOLS
    if symbol not in traded:
        listed = ", ".join(traded) or "none"
        raise ValidationError(
            f"{symbol} is not traded: the trading loop ticks {listed} (TRADING_SYMBOLS). "
            f"Add {symbol} to TRADING_SYMBOLS and restart the trader, or keep the strategy "
            "off.",
            extra={"fields": {"symbol": [f"Not traded. Traded symbols: {listed}."]}},
        )


def _validate_kind(kind: str) -> str:
    if kind not in StrategyKind.values:
        allowed = ", ".join(StrategyKind.values)
        raise ValidationError(
            f"Unknown strategy kind {kind!r}. Allowed: {allowed}.",
            extra={"fields": {"kind": [f"Unknown strategy kind. Allowed: {allowed}."]}},
        )
    return kind


def strategy_audit_values(strategy: StrategyConfig) -> dict[str, Any]:
    return {
        "name": strategy.name,
        "kind": strategy.kind,
        "symbol": strategy.symbol,
        "params": strategy.params,
        "is_active": strategy.is_active,
        "status": strategy.status,
    }


def _audit(actor: Actor | None, action: str, pk, before: dict, after: dict) -> None:
    if actor is not None:
        audit_record(
            actor=actor, action=action, target=f"strategy {pk}", before=before, after=after
        )


def _publish_strategy(strategy: StrategyConfig, event: str) -> None:
    publish(StrategyChanged(event, strategy))


@transaction.atomic
def strategy_config_create(
    *,
    name: str,
    kind: str,
    symbol: str,
    params: dict[str, Any],
    is_active: bool = False,
    actor: Actor | None = None,
) -> StrategyConfig:
    kind = _validate_kind(kind)
    name = name.strip()
    if not name:
        raise ValidationError("A strategy needs a name.", extra={"fields": {"name": ["Required."]}})
    if StrategyConfig.objects.filter(name=name).exists():
        raise ConflictError(
            f"A strategy named {name!r} already exists.",
            extra={"fields": {"name": ["Already in use."]}},
        )
    symbol = _validate_symbol(symbol)
    if is_active:
        symbol_require_traded(symbol=symbol)
    strategy = StrategyConfig.objects.create(
        name=name,
        kind=kind,
        symbol=symbol,
        params=normalize_params(kind, params),
        is_active=is_active,
    )
    _audit(actor, "strategy.create", strategy.pk, {}, strategy_audit_values(strategy))
    transaction.on_commit(lambda: _publish_strategy(strategy, "strategy.created"))
    return strategy


@transaction.atomic
def strategy_config_update(
    *,
    strategy: StrategyConfig,
    name: str | None = None,
    symbol: str | None = None,
    params: dict[str, Any] | None = None,
    actor: Actor | None = None,
) -> StrategyConfig:
    """Change name, symbol or params. The kind is fixed: its state would not carry over."""
    before = strategy_audit_values(strategy)
    if name is not None:
        name = name.strip()
        if StrategyConfig.objects.filter(name=name).exclude(pk=strategy.pk).exists():
            raise ConflictError(
                f"A strategy named {name!r} already exists.",
                extra={"fields": {"name": ["Already in use."]}},
            )
        strategy.name = name
    if symbol is not None:
        symbol = _validate_symbol(symbol)
        if strategy.is_active:
            symbol_require_traded(symbol=symbol)
        if symbol != strategy.symbol and strategy.state:
            raise ConflictError(
                f"Strategy {strategy.name!r} has state for {strategy.symbol}; create a new "
                "strategy to trade another symbol.",
                extra={"fields": {"symbol": ["Cannot change while the strategy has state."]}},
            )
        strategy.symbol = symbol
    if params is not None:
        strategy.params = normalize_params(strategy.kind, params)
    strategy.save()
    _audit(actor, "strategy.update", strategy.pk, before, strategy_audit_values(strategy))
    transaction.on_commit(lambda: _publish_strategy(strategy, "strategy.updated"))
    return strategy


@transaction.atomic
def strategy_config_set_active(
    *, strategy: StrategyConfig, active: bool, actor: Actor | None = None
) -> StrategyConfig:
    """Switch a strategy on or off. Switching on also clears an error status."""
    locked = StrategyConfig.objects.select_for_update().get(pk=strategy.pk)
    if active:
        symbol_require_traded(symbol=locked.symbol)
    before = {"is_active": locked.is_active, "status": locked.status}
    locked.is_active = active
    fields = ["is_active", "status", "last_error", "updated_at"]
    if active and locked.status == StrategyStatus.ERRORED:
        locked.status = StrategyStatus.OK
        locked.last_error = ""
        # A halted execution algorithm keeps the state that explains its halt; switched
        # on again it tries again rather than halting at once.
        unhalted = state_without_halt(locked.state)
        if unhalted != locked.state:
            locked.state = unhalted
            locked.state_version += 1
            fields += ["state", "state_version"]
    locked.save(update_fields=fields)
    after = {"is_active": locked.is_active, "status": locked.status}
    _audit(actor, "strategy.toggle", locked.pk, before, after)
    transaction.on_commit(lambda: _publish_strategy(locked, "strategy.toggled"))
    strategy.refresh_from_db()
    return strategy


def strategy_config_set_active_many(
    *, strategies: list[StrategyConfig], active: bool, actor: Actor | None = None
) -> tuple[int, list[tuple[StrategyConfig, str]]]:
    """Bulk switch; returns how many changed state, and those refused with why (a
    strategy on a symbol that is not traded cannot be switched on)."""
    changed, refused = 0, []
    for strategy in strategies:
        if strategy.is_active != active:
            try:
                strategy_config_set_active(strategy=strategy, active=active, actor=actor)
            except ValidationError as exc:
                refused.append((strategy, exc.message))
                continue
            changed += 1
    return changed, refused


TECHNICAL_SIGNALS = ("ma_cross", "rsi")


def strategy_config_create_technical(
    *,
    symbol: str,
    strategy_type: str,
    params: dict[str, Any],
    name: str | None = None,
    is_active: bool = True,
    actor: Actor | None = None,
) -> StrategyConfig:
    """A Technical strategy from `{symbol, strategy_type, params}` (the dashboard's form):
    strategy_type ma_cross or rsi becomes the `signal` parameter. Active by default, so it
    trades from the next tick. Without a name it is called "<strategy_type> <symbol>"
    (numbered if that is taken)."""
    if strategy_type not in TECHNICAL_SIGNALS:
        allowed = ", ".join(TECHNICAL_SIGNALS)
        raise ValidationError(
            f"Unknown strategy type {strategy_type!r}. Allowed: {allowed}.",
            extra={"fields": {"strategy_type": [f"Allowed: {allowed}."]}},
        )
    if not isinstance(params, dict):
        raise ValidationError(
            "Parameters must be a JSON object.",
            extra={"fields": {"params": ["Must be a JSON object."]}},
        )
    if "signal" in params and params["signal"] != strategy_type:
        raise ValidationError(
            f"params.signal {params['signal']!r} contradicts strategy_type {strategy_type!r}; "
            "leave signal out.",
            extra={"fields": {"params.signal": ["Leave out: strategy_type sets it."]}},
        )
    symbol = _validate_symbol(symbol)
    if name is None:
        base = f"{strategy_type} {symbol}"
        taken = set(
            StrategyConfig.objects.filter(name__startswith=base).values_list("name", flat=True)
        )
        name = base
        number = 2
        while name in taken:
            name, number = f"{base} #{number}", number + 1
    return strategy_config_create(
        name=name,
        kind=StrategyKind.TECHNICAL,
        symbol=symbol,
        params={**params, "signal": strategy_type},
        is_active=is_active,
        actor=actor,
    )


@transaction.atomic
def strategy_config_delete(*, strategy: StrategyConfig, actor: Actor | None = None) -> None:
    """Delete a strategy that never traded. One with orders keeps its history: it can
    only be deactivated (its orders, fills and PnL stay attributed to it)."""
    locked = StrategyConfig.objects.select_for_update().filter(pk=strategy.pk).first()
    if locked is None:
        return
    orders = locked.orders.count()
    if orders:
        raise ConflictError(
            f"Strategy {locked.name!r} has {orders} order(s) and cannot be deleted, so that "
            "its trading history stays attributed to it; deactivate it instead "
            f'(POST /api/strategies/{locked.pk}/toggle with {{"active": false}}).',
            code="strategy_has_orders",
        )
    strategy_id = locked.pk
    before = strategy_audit_values(locked)
    try:
        locked.delete()
    except ProtectedError:
        # Fills or positions without orders cannot happen through the services, but
        # the database protects the history all the same.
        raise ConflictError(
            f"Strategy {locked.name!r} has trading history and cannot be deleted; "
            "deactivate it instead.",
            code="strategy_has_orders",
        ) from None
    locked.pk = strategy_id  # for the event: delete() clears it
    _audit(actor, "strategy.delete", strategy_id, before, {})
    transaction.on_commit(lambda: _publish_strategy(locked, "strategy.deleted"))
