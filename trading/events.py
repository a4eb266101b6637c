"""What the trading side tells the dashboard, as typed events, and the one way to send
them (`publish`). A page's script listens for each event's `name`; its data is the
event's `payload()` (plain JSON once sent: decimals become strings)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from trading.models import ActivityEvent, Fill, Order, Position, RiskLimits, StrategyConfig
from xquant import realtime


class Event:
    name: ClassVar[str]

    def payload(self) -> dict[str, Any]:
        raise NotImplementedError


def publish(event: Event) -> None:
    """Send the event to every connected dashboard page (after the caller's commit is the
    caller's business: wrap in transaction.on_commit where the data is not yet saved)."""
    realtime.publish(realtime.DASHBOARD_GROUP, event.name, event.payload())


def order_payload(order: Order) -> dict[str, Any]:
    return {
        "id": order.pk,
        "client_order_id": order.client_order_id,
        "exchange_order_id": order.exchange_order_id,
        "symbol": order.symbol,
        "side": order.side,
        "order_type": order.order_type,
        "position_side": order.position_side,
        "quantity": order.quantity,
        "price": order.price,
        "status": order.status,
        "filled_quantity": order.filled_quantity,
        "average_price": order.average_price,
        "strategy_id": order.strategy_id,
        "source": order.source,
        "reason": order.reason,
        "error_code": order.error_code,
        "error_message": order.error_message,
        "created_at": order.created_at,
        "updated_at": order.updated_at,
    }


def position_payload(position: Position) -> dict[str, Any]:
    return {
        "id": position.pk,
        "symbol": position.symbol,
        "position_side": position.position_side,
        "quantity": position.quantity,
        "entry_price": position.entry_price,
        "mark_price": position.mark_price,
        "unrealized_pnl": position.unrealized_pnl,
        "realized_pnl": position.realized_pnl,
        "fees_paid": position.fees_paid,
    }


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


@dataclass(frozen=True)
class OrderUpdated(Event):
    name: ClassVar[str] = "order.updated"
    order: Order

    def payload(self) -> dict[str, Any]:
        return order_payload(self.order)


@dataclass(frozen=True)
class RiskTripped(Event):
    """A risk guard refused an order."""

    name: ClassVar[str] = "risk.tripped"
    order: Order
    guard: str
    reason: str

    def payload(self) -> dict[str, Any]:
        return {"guard": self.guard, "reason": self.reason, "order": order_payload(self.order)}


@dataclass(frozen=True)
class FillCreated(Event):
    name: ClassVar[str] = "fill.created"
    fill: Fill

    def payload(self) -> dict[str, Any]:
        fill = self.fill
        return {
            "id": fill.pk,
            "order_id": fill.order_id,
            "strategy_id": fill.strategy_id,
            "symbol": fill.symbol,
            "side": fill.side,
            "position_side": fill.position_side,
            "price": fill.price,
            "quantity": fill.quantity,
            "fee": fill.fee,
            "realized_pnl": fill.realized_pnl,
            "executed_at": fill.executed_at,
        }


@dataclass(frozen=True)
class PositionUpdated(Event):
    name: ClassVar[str] = "position.updated"
    position: Position

    def payload(self) -> dict[str, Any]:
        return position_payload(self.position)


@dataclass(frozen=True)
class PriceTicked(Event):
    """The mid a tick traded at."""

    name: ClassVar[str] = "price"
    symbol: str
    bid: Decimal
    ask: Decimal
    mid: Decimal
    timestamp: datetime

    def payload(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "bid": self.bid,
            "ask": self.ask,
            "mid": self.mid,
            "timestamp": self.timestamp,
        }


@dataclass(frozen=True)
class StrategyStatusChanged(Event):
    """Errored, finished, paused or resumed by the trading loop."""

    name: ClassVar[str] = "strategy.status"
    config: StrategyConfig

    def payload(self) -> dict[str, Any]:
        config = self.config
        return {
            "id": config.pk,
            "name": config.name,
            "status": config.status,
            "is_active": config.is_active,
            "last_error": config.last_error,
            "paused": (config.state or {}).get("paused"),
        }


@dataclass(frozen=True)
class StrategyChanged(Event):
    """A strategy created, changed or deleted by a person (`name` says which)."""

    name: str  # type: ignore[misc]  # "strategy.created", "strategy.updated", ...
    config: StrategyConfig

    def payload(self) -> dict[str, Any]:
        config = self.config
        return {
            "id": config.pk,
            "name": config.name,
            "kind": config.kind,
            "symbol": config.symbol,
            "is_active": config.is_active,
            "status": config.status,
        }


@dataclass(frozen=True)
class RiskLimitsChanged(Event):
    name: ClassVar[str] = "risk.limits"
    limits: RiskLimits

    def payload(self) -> dict[str, Any]:
        return risk_limits_payload(self.limits)


@dataclass(frozen=True)
class KillSwitchChanged(Event):
    """Engaged (with what its cancels did) or released."""

    name: ClassVar[str] = "risk.kill_switch"
    limits: RiskLimits
    canceled: int | None = None
    failed: list | None = None

    def payload(self) -> dict[str, Any]:
        payload = risk_limits_payload(self.limits)
        if self.canceled is not None:
            payload |= {"canceled": self.canceled, "failed": self.failed or []}
        return payload


@dataclass(frozen=True)
class ActivityCreated(Event):
    name: ClassVar[str] = "activity.created"
    event: ActivityEvent

    def payload(self) -> dict[str, Any]:
        event = self.event
        return {
            "id": event.pk,
            "kind": event.kind,
            "level": event.level,
            "symbol": event.symbol,
            "message": event.message,
        }


@dataclass(frozen=True)
class AccountUpdated(Event):
    name: ClassVar[str] = "account.updated"
    exchange: str
    assets: list[str]
    at: datetime

    def payload(self) -> dict[str, Any]:
        return {"exchange": self.exchange, "assets": self.assets, "at": self.at}
