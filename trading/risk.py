"""Risk guards: one small class per rule, each answering allow or refuse-with-a-reason.

The order service runs every guard before an order is persisted as sendable, for every
path (strategy ticks, API, admin). The guards are pure; `trading.services.risk` gathers
the state they look at (limits, today's loss, positions and open orders).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

ZERO = Decimal("0")


@dataclass(frozen=True, slots=True)
class RiskDecision:
    allowed: bool
    guard: str = ""
    reason: str = ""


ALLOW = RiskDecision(True)


@dataclass(frozen=True, slots=True)
class ProposedOrder:
    symbol: str
    side: str
    position_side: str
    quantity: Decimal
    #: The limit price, or the mid for a market order.
    price: Decimal
    reduce_only: bool = False

    @property
    def notional(self) -> Decimal:
        return self.quantity * self.price

    @property
    def signed_quantity(self) -> Decimal:
        return self.quantity if self.side == "BUY" else -self.quantity


@dataclass(frozen=True, slots=True)
class RiskState:
    """What the guards look at, gathered once per tick (or per manual order)."""

    max_order_notional: Decimal
    max_position_notional: Decimal
    daily_loss_limit: Decimal
    kill_switch_engaged: bool
    kill_switch_reason: str
    #: Today's realised PnL net of fees plus the current unrealised PnL, as a loss
    #: (positive when losing).
    loss_today: Decimal
    #: Signed position per (symbol, position_side).
    positions: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    #: Remaining quantity of working orders per (symbol, position_side, side).
    working: dict[tuple[str, str, str], Decimal] = field(default_factory=dict)

    def position(self, symbol: str, position_side: str) -> Decimal:
        return self.positions.get((symbol, position_side), ZERO)

    def reduces_position(self, order: ProposedOrder) -> bool:
        """True when the order can only shrink the position it trades against."""
        if order.reduce_only:
            return True
        current = self.position(order.symbol, order.position_side)
        if current == 0 or (current > 0) == (order.signed_quantity > 0):
            return False
        return order.quantity <= abs(current)


class Guard(Protocol):
    name: str

    def check(self, order: ProposedOrder, state: RiskState) -> RiskDecision: ...


class KillSwitchGuard:
    name = "kill_switch"

    def check(self, order: ProposedOrder, state: RiskState) -> RiskDecision:
        if state.kill_switch_engaged:
            why = f": {state.kill_switch_reason}" if state.kill_switch_reason else ""
            return RiskDecision(
                False, self.name, f"the kill switch is engaged{why}; no orders are sent"
            )
        return ALLOW


class DailyLossGuard:
    name = "daily_loss"

    def check(self, order: ProposedOrder, state: RiskState) -> RiskDecision:
        if state.loss_today < state.daily_loss_limit or state.reduces_position(order):
            return ALLOW
        return RiskDecision(
            False,
            self.name,
            f"today's loss {state.loss_today:.2f} USDT has reached the daily limit "
            f"{state.daily_loss_limit:.2f}; only orders that reduce a position are allowed",
        )


class MaxOrderNotionalGuard:
    name = "max_order_notional"

    def check(self, order: ProposedOrder, state: RiskState) -> RiskDecision:
        if order.notional <= state.max_order_notional:
            return ALLOW
        return RiskDecision(
            False,
            self.name,
            f"order notional {order.notional:.2f} USDT ({order.quantity} × {order.price}) is "
            f"above the maximum {state.max_order_notional:.2f} per order",
        )


class MaxPositionGuard:
    """Per symbol: the position if this order and every working order on the same side
    filled, valued at the order's price, must stay within the limit. Orders that reduce
    the position are always allowed."""

    name = "max_position"

    def check(self, order: ProposedOrder, state: RiskState) -> RiskDecision:
        if state.reduces_position(order):
            return ALLOW
        current = state.position(order.symbol, order.position_side)
        working = state.working.get((order.symbol, order.position_side, order.side), ZERO)
        direction = 1 if order.side == "BUY" else -1
        worst_case = current + direction * (working + order.quantity)
        notional = abs(worst_case) * order.price
        if notional <= state.max_position_notional:
            return ALLOW
        return RiskDecision(
            False,
            self.name,
            f"{order.symbol} position would reach {worst_case.normalize():f} "
            f"({notional:.2f} USDT, counting {working.normalize():f} in working orders), above "
            f"the maximum {state.max_position_notional:.2f} per symbol",
        )


GUARDS: tuple[Guard, ...] = (
    KillSwitchGuard(),
    DailyLossGuard(),
    MaxOrderNotionalGuard(),
    MaxPositionGuard(),
)


def risk_check(order: ProposedOrder, state: RiskState) -> RiskDecision:
    """The first guard that refuses, or ALLOW."""
    for guard in GUARDS:
        decision = guard.check(order, state)
        if not decision.allowed:
            return decision
    return ALLOW
