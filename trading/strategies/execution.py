"""What the execution algorithms share: a parent quantity worked through child orders.

TWAP, VWAP, Iceberg and the trailing stop's closing order all work a parent quantity
through child orders. What was executed is learnt only from the order manager's updates
(cumulative filled quantity per child), never from what was asked for.

Rules every child follows:
- The parent is never over-executed: a new child is at most the parent minus what is
  filled minus what live children may still fill.
- A child that ends rejected, canceled or expired gives back its unfilled quantity,
  which the next child takes (for TWAP/VWAP the next scheduled slice, or a catch-up slice
  after the schedule; for Iceberg and the stop the next snapshot), so the parent still
  completes.
- MAX_FAILED_CHILDREN children in a row that end without any fill halt the algorithm
  (StrategyHalted on every later call): something refuses every order (funds, the
  exchange's filters) and sending more would only add rejected orders.
- The desk stopping it is not such a failure. While the kill switch is engaged the tick
  pauses the algorithms that can pause (`pause`/`resume`, the time passed in): no child
  goes out, and children the switch cancelled do not count; on release a schedule
  resumes where it stopped, shifted by the time paused (never one big catch-up slice).
  A child refused by a risk guard ("risk.*") does not count either: the next one is
  tried at the next slot (TWAP/VWAP) or RISK_RETRY later (Iceberg).
- The status of a child that reached a terminal status is final: later updates for it
  are ignored (the order manager reports the final cumulative fill with that status).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from exchanges.base import LIMIT, MARKET, MarketSnapshot
from trading.strategies.base import (
    NO_INTENTS,
    ExternalSignal,
    OrderIntent,
    OrderUpdate,
    Strategy,
    StrategyHalted,
)
from trading.strategies.common import (
    DISTANT_FUTURE,
    DISTANT_PAST,
    TERMINAL_STATUSES,
    ZERO,
    dt_from_iso,
    dt_iso,
    require_on_grid,
)

MAX_FAILED_CHILDREN = 3
#: How long an iceberg waits after a risk guard refused its child before the next one.
RISK_RETRY = timedelta(seconds=30)


def state_without_halt(state: dict[str, Any]) -> dict[str, Any]:
    """A saved state with its halt lifted (an operator switched the strategy on again):
    the failures in a row start from zero. Nested states (a combined strategy's child)
    too; any other state comes back unchanged."""
    if not isinstance(state, dict):
        return state
    cleared = dict(state)
    if cleared.get("halted"):
        cleared["halted"] = None
        children = cleared.get("children")
        if isinstance(children, dict):
            cleared["children"] = {**children, "failures": 0}
    child = cleared.get("child")
    if isinstance(child, dict) and isinstance(child.get("state"), dict):
        cleared["child"] = {**child, "state": state_without_halt(child["state"])}
    return cleared


class ChildOrders:
    """Live children of one parent and what all children have filled."""

    __slots__ = ("executed", "failures", "live")

    def __init__(self) -> None:
        #: key -> [quantity, cumulative filled]
        self.live: dict[str, list[Decimal]] = {}
        self.executed = ZERO
        #: Children in a row that ended without any fill.
        self.failures = 0

    @property
    def outstanding(self) -> Decimal:
        """What live children may still fill."""
        return sum((quantity - filled for quantity, filled in self.live.values()), ZERO)

    def add(self, key: str, quantity: Decimal) -> None:
        self.live[key] = [quantity, ZERO]

    def apply(self, update: OrderUpdate, *, count_failure: bool = True) -> bool:
        """Account one update; False when it is about no live child of ours. With
        `count_failure` False an unfilled end does not count toward the halt."""
        child = self.live.get(update.key)
        if child is None:
            return False
        filled = update.filled_quantity
        if filled > child[1]:
            self.executed += filled - child[1]
            child[1] = filled
        if update.status in TERMINAL_STATUSES:
            del self.live[update.key]
            if child[1] > 0:
                self.failures = 0
            elif count_failure:
                self.failures += 1
        elif child[1] > 0:
            self.failures = 0
        return True

    def dump(self) -> dict[str, Any]:
        return {
            "live": {key: [str(q), str(f)] for key, (q, f) in self.live.items()},
            "executed": str(self.executed),
            "failures": self.failures,
        }

    @classmethod
    def load(cls, state: dict[str, Any] | None) -> ChildOrders:
        children = cls()
        if state:
            children.live = {k: [Decimal(q), Decimal(f)] for k, (q, f) in state["live"].items()}
            children.executed = Decimal(state["executed"])
            children.failures = int(state["failures"])
        return children


class ExecutionAlgorithm(Strategy):
    """A parent quantity (`self.total`, on the side `self.side`) worked by child orders."""

    #: Shown in reasons: "TWAP slice 3/10".
    label: ClassVar[str]
    #: The parameter that holds the parent quantity.
    total_param: ClassVar[str] = "total_quantity"

    def load_state(self, state: dict[str, Any]) -> None:
        params = self.params
        self.side: str = params["side"]
        self.position_side: str = params["position_side"]
        self.reduce_only: bool = params["reduce_only"]
        self.total: Decimal = require_on_grid(
            self.rules, self.total_param, params[self.total_param]
        )
        self.children = ChildOrders.load(state.get("children"))
        self.halt_reason: str | None = state.get("halted")
        #: {"since": iso time, "reason": why} while the desk has it paused.
        self.paused: dict[str, str] | None = state.get("paused")
        #: Seconds spent paused so far (a schedule is shifted by them).
        self.paused_seconds: int = int(state.get("paused_seconds", 0))
        #: The code of the last child a risk guard refused, until a child fills.
        self.risk_refused: str | None = state.get("risk_refused")

    def dump_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"children": self.children.dump(), "halted": self.halt_reason}
        # Written only once used, so the states of strategies never paused keep their shape.
        if self.paused is not None:
            state["paused"] = self.paused
        if self.paused_seconds:
            state["paused_seconds"] = self.paused_seconds
        if self.risk_refused is not None:
            state["risk_refused"] = self.risk_refused
        return state

    pausable: ClassVar[bool] = True
    #: Whether a child refused by a risk guard counts toward the halt.
    risk_refusals_count: ClassVar[bool] = False

    def pause(self, *, at: datetime, reason: str) -> None:
        """No child goes out until `resume`; what live children do is still followed."""
        if self.paused is None:
            self.paused = {"since": dt_iso(at), "reason": reason}
        elif self.paused["reason"] != reason:
            self.paused = {**self.paused, "reason": reason}

    def resume(self, *, at: datetime) -> None:
        if self.paused is None:
            return
        since = dt_from_iso(self.paused["since"])
        self.paused = None
        if since is not None and at > since:
            self.paused_seconds += int((at - since).total_seconds())
        self._resumed()

    def _resumed(self) -> None:
        """Hook: a schedule moves its next due time by the pause."""

    @property
    def executed(self) -> Decimal:
        return self.children.executed

    @property
    def unassigned(self) -> Decimal:
        """Parent quantity that no child is working: what the next child may take."""
        left = self.total - self.children.executed - self.children.outstanding
        return left if left > 0 else ZERO

    @property
    def finished(self) -> bool:
        return self.children.executed >= self.total

    def on_order_update(self, update: OrderUpdate) -> None:
        children = self.children
        refused_by_risk = update.error_code.startswith("risk.") and not self.risk_refusals_count
        if not children.apply(update, count_failure=self.paused is None and not refused_by_risk):
            return
        refused = refused_by_risk and update.filled_quantity == 0
        self.risk_refused = update.error_code if refused else None
        if children.failures >= MAX_FAILED_CHILDREN and self.halt_reason is None:
            self.halt_reason = (
                f"{self.label} halted: {children.failures} child orders in a row ended "
                f"without any fill (last: {update.key} {update.status}); "
                f"{children.executed} of {self.total} executed."
            )

    def _raise_halted(self) -> None:
        raise StrategyHalted(self.halt_reason or f"{self.label} halted.")

    def _below_minimum(self, quantity: Decimal, order_type: str) -> bool:
        rules = self.rules
        if rules is None:
            return False
        minimum = rules.min_qty
        if order_type == MARKET and rules.market_min_qty:
            minimum = rules.market_min_qty
        return quantity < minimum

    def _price(self, price: Decimal) -> Decimal:
        # Never more aggressive than asked: a buy rounds down, a sell up.
        return self.rules.round_price(price, self.side) if self.rules is not None else price

    def _child(
        self, key: str, quantity: Decimal, reason: str, price: Decimal | None = None
    ) -> OrderIntent:
        self.children.add(key, quantity)
        return OrderIntent(
            key=key,
            symbol=self.symbol,
            side=self.side,
            quantity=quantity,
            order_type=MARKET if price is None else LIMIT,
            price=price,
            position_side=self.position_side,
            reduce_only=self.reduce_only,
            reason=reason,
        )


class ScheduledExecution(ExecutionAlgorithm):
    """Children on a time schedule: slot i is due at start + i * interval.

    The schedule is a list of cumulative targets, target[i] = what should be executed or
    working once slot i is due; the last target is the parent quantity. A due slot sends
    target - executed - live, so slices sum exactly to the parent, a refused slice's
    quantity rolls into the next one, and nothing is ever sent twice.

    Slots missed at once (a restart, a gap in the feed) are merged: one child brings the
    execution back to the schedule's target for the latest due slot, named for that
    slot ("slice-6"), rather than one stale slice per tick. After the last slot, any
    quantity given back by a refused child goes out once per interval as a catch-up
    ("slice-10-r1", "slice-10-r2", ...) until the parent completes or it halts.
    """

    def _weights(self) -> list[Decimal]:
        raise NotImplementedError

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.interval = timedelta(seconds=self.params["interval_seconds"])
        self.targets = self._targets(self._weights())
        self.start: datetime | None = dt_from_iso(state.get("start"))
        #: The last slot processed (-1: none yet).
        self.slot: int = state.get("slot", -1)
        self._set_next_due()

    def _set_next_due(self) -> None:
        self._next_due = (
            DISTANT_PAST if self.start is None else self._origin + (self.slot + 1) * self.interval
        )

    @property
    def _origin(self) -> datetime:
        """Where slot 0 is due: the first slice, shifted by the time spent paused."""
        assert self.start is not None
        return self.start + timedelta(seconds=self.paused_seconds)

    def _resumed(self) -> None:
        self._set_next_due()

    def dump_state(self) -> dict[str, Any]:
        return {**super().dump_state(), "start": dt_iso(self.start), "slot": self.slot}

    def _targets(self, weights: list[Decimal]) -> list[Decimal]:
        total, weight_sum = self.total, sum(weights, ZERO)
        round_quantity = self.rules.round_quantity if self.rules is not None else None
        targets, cumulative = [], ZERO
        for weight in weights[:-1]:
            cumulative += total * weight / weight_sum
            targets.append(round_quantity(cumulative) if round_quantity else cumulative)
        targets.append(total)
        return targets

    @property
    def slices(self) -> int:
        return len(self.targets)

    def on_market_data(
        self, snapshot: MarketSnapshot, *, signal: ExternalSignal | None = None
    ) -> list[OrderIntent] | tuple[OrderIntent, ...]:
        if self.halt_reason is not None:
            self._raise_halted()
        ts = snapshot.timestamp
        if ts < self._next_due:
            return NO_INTENTS
        if self.finished:
            self._next_due = DISTANT_FUTURE
            return NO_INTENTS
        if self.start is None:
            self.start = ts
        previous, slot = self.slot, max(self.slot, (ts - self._origin) // self.interval)
        self.slot = slot
        self._next_due = self._origin + (slot + 1) * self.interval
        n = len(self.targets)
        target = self.targets[slot] if slot < n else self.total
        quantity = target - self.children.executed - self.children.outstanding
        if quantity <= 0:
            return NO_INTENTS
        price = self._slice_price(snapshot)
        order_type = MARKET if price is None else LIMIT
        if target < self.total and self._below_minimum(quantity, order_type):
            # Too small for the exchange: it waits for the next slot instead.
            return NO_INTENTS
        if slot >= n:
            key = f"slice-{n}-r{slot - n + 1}"
            reason = f"{self.label} catch-up {slot - n + 1} after slice {n}/{n}"
        elif slot - previous > 1:
            key = f"slice-{slot + 1}"
            reason = f"{self.label} slices {previous + 2}-{slot + 1}/{n} (caught up)"
        else:
            key = f"slice-{slot + 1}"
            reason = f"{self.label} slice {slot + 1}/{n}"
        return [self._child(key, quantity, reason, price)]

    def _slice_price(self, snapshot: MarketSnapshot) -> Decimal | None:
        """None for a market slice."""
        return None
