"""Iceberg: a large order shown a small child at a time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from exchanges.base import MarketSnapshot
from trading.strategies.base import NO_INTENTS, ExternalSignal, OrderIntent, register
from trading.strategies.common import dt_from_iso, dt_iso, require_on_grid
from trading.strategies.execution import RISK_RETRY, ExecutionAlgorithm


@register
class Iceberg(ExecutionAlgorithm):
    """Params: side, total_quantity, visible_quantity, limit_price (optional),
    position_side, reduce_only (see params.IcebergParams).

    At most one child is live at a time, and none is larger than visible_quantity: the
    next child goes out at the first snapshot after the previous one reached a terminal
    status. Children are LIMIT orders at limit_price, or at that snapshot's mid when no
    limit_price is set (a child is not re-priced while it rests). A child that ends with
    an unfilled part gives it back to the parent; the next child takes it.
    """

    kind = "iceberg"
    label = "Iceberg"

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.visible = require_on_grid(
            self.rules, "visible_quantity", self.params["visible_quantity"]
        )
        self.limit_price = self.params["limit_price"]
        #: Children sent so far (keys "child-1", "child-2", ...).
        self.sent: int = state.get("sent", 0)
        #: After a risk guard refused a child: no next one before this time.
        self.retry_at: datetime | None = dt_from_iso(state.get("retry_at"))

    def dump_state(self) -> dict[str, Any]:
        state = {**super().dump_state(), "sent": self.sent}
        if self.retry_at is not None:
            state["retry_at"] = dt_iso(self.retry_at)
        return state

    def on_market_data(
        self, snapshot: MarketSnapshot, *, signal: ExternalSignal | None = None
    ) -> list[OrderIntent] | tuple[OrderIntent, ...]:
        if self.halt_reason is not None:
            self._raise_halted()
        children = self.children
        if children.live:
            return NO_INTENTS
        if self.risk_refused is not None:
            # Refused by a risk guard: try again later, not one refused order per tick.
            if self.retry_at is None:
                self.retry_at = snapshot.timestamp + RISK_RETRY
            if snapshot.timestamp < self.retry_at:
                return NO_INTENTS
            self.retry_at = None
        remaining = self.total - children.executed
        if remaining <= 0:
            return NO_INTENTS
        quantity = min(self.visible, remaining)
        price = self._price(self.limit_price if self.limit_price is not None else snapshot.mid)
        self.sent += 1
        reason = (
            f"Iceberg child {self.sent}: {quantity} of {remaining} left "
            f"({children.executed}/{self.total} done)"
        )
        return [self._child(f"child-{self.sent}", quantity, reason, price)]
