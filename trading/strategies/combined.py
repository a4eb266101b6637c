"""Combined: a technical signal whose position changes are worked by TWAP, VWAP or Iceberg."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from exchanges.base import BUY, SELL, MarketSnapshot
from trading.strategies.base import (
    NO_INTENTS,
    ExternalSignal,
    OrderIntent,
    OrderUpdate,
    register,
)
from trading.strategies.execution import ExecutionAlgorithm
from trading.strategies.iceberg import Iceberg
from trading.strategies.params import params_to_json
from trading.strategies.technical import SignalStrategy
from trading.strategies.twap import TWAP
from trading.strategies.vwap import VWAP

EXECUTIONS: dict[str, type[ExecutionAlgorithm]] = {"twap": TWAP, "vwap": VWAP, "iceberg": Iceberg}


@register
class Combined(SignalStrategy):
    """Params: those of Technical plus execution (twap|vwap|iceberg) and what it needs:
    slices + interval_seconds, volume_profile + interval_seconds, or visible_quantity
    (see params.CombinedParams).

    Signals, bars and the net position are Technical's. What an event's target needs
    (see SignalStrategy) becomes the parent quantity of a new execution child of the
    chosen kind, fed every snapshot from then on; its first child order goes out at the
    snapshot of the event. The child's keys are prefixed with the execution number
    ("e1-slice-1", "e2-child-3"), so they stay unique across entries, and its state is
    embedded in this strategy's state.

    An event that changes the target while a child is still working retires that child:
    it sends nothing more, its live orders are still tracked, and a new child works
    what the new target needs. A child that halts (its orders refused again and again) is
    retired the same way, and the next event decides again.
    """

    kind = "combined"

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.child: ExecutionAlgorithm | None = None
        self._child_info: dict[str, Any] | None = state.get("child")
        if self._child_info is not None:
            info = self._child_info
            self.child = EXECUTIONS[info["kind"]](
                symbol=self.symbol, params=info["params"], state=info["state"], rules=self.rules
            )
            self._prefix = f"e{info['entry']}-"

    def dump_state(self) -> dict[str, Any]:
        state = super().dump_state()
        info = self._child_info
        state["child"] = (
            None
            if self.child is None or info is None
            else {**info, "state": self.child.dump_state()}
        )
        return state

    def on_market_data(
        self, snapshot: MarketSnapshot, *, signal: ExternalSignal | None = None
    ) -> list[OrderIntent] | tuple[OrderIntent, ...]:
        # Bars and events; an event only sets up the child, which sends below.
        super().on_market_data(snapshot, signal=signal)
        child = self.child
        if child is None:
            return NO_INTENTS
        if child.halt_reason is not None:
            self._retire_child()
            return NO_INTENTS
        intents = child.on_market_data(snapshot)
        if not intents:
            return NO_INTENTS
        prefix, reason = self._prefix, self._child_info["reason"]
        for intent in intents:
            intent.key = prefix + intent.key
            intent.reason = f"{reason} → {intent.reason}"
            self._track(intent.key, intent.side, intent.quantity)
        return intents

    def _on_event(
        self, event: int, snapshot: MarketSnapshot, signal: ExternalSignal | None
    ) -> list[OrderIntent] | tuple[OrderIntent, ...]:
        target, reason = self._event_target(event, signal)
        if self.child is not None and target == self.target:
            return NO_INTENTS  # the working child already goes there
        self.target = target
        self._retire_child()
        delta = self._needed(target)
        if delta != 0:
            self._start_child(delta, f"{reason}: target {target}")
        # The child's first order goes out in on_market_data, at this same snapshot.
        return NO_INTENTS

    def _start_child(self, delta: Decimal, reason: str) -> None:
        params = self.params
        side, quantity = (BUY, delta) if delta > 0 else (SELL, -delta)
        execution = params["execution"]
        child_params: dict[str, Any] = {"side": side, "total_quantity": quantity}
        if execution == "twap":
            child_params["slices"] = params["slices"]
            child_params["interval_seconds"] = params["interval_seconds"]
        elif execution == "vwap":
            child_params["volume_profile"] = params["volume_profile"]
            child_params["interval_seconds"] = params["interval_seconds"]
        else:
            child_params["visible_quantity"] = min(params["visible_quantity"], quantity)
        self.sent += 1
        child_params = params_to_json(child_params)
        self.child = EXECUTIONS[execution](
            symbol=self.symbol, params=child_params, state=None, rules=self.rules
        )
        self._prefix = f"e{self.sent}-"
        self._child_info = {
            "entry": self.sent,
            "kind": execution,
            "params": child_params,
            "reason": reason,
        }

    def _retire_child(self) -> None:
        self.child = None
        self._child_info = None

    def on_order_update(self, update: OrderUpdate) -> None:
        super().on_order_update(update)
        child = self.child
        if child is None or not update.key.startswith(self._prefix):
            return
        child.on_order_update(
            OrderUpdate(
                key=update.key[len(self._prefix) :],
                side=update.side,
                status=update.status,
                filled_quantity=update.filled_quantity,
                average_price=update.average_price,
            )
        )
        if child.finished:
            self._retire_child()
