"""Small strategies on the live contract (trading.strategies.base.Strategy), for engine tests."""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Any

from trading.strategies.base import NO_INTENTS, OrderIntent, OrderUpdate, Strategy


class TinyMaCross(Strategy):
    """Long while SMA(fast) > SMA(slow) of the mids, short while below; market orders."""

    kind = "technical"  # validated with the Technical parameters; never registered

    def load_state(self, state: dict[str, Any]) -> None:
        self.mids: deque[Decimal] = deque(maxlen=self.params["slow_period"])
        self.position = Decimal(state.get("position", "0"))
        self.seq = int(state.get("seq", 0))
        self.updates: list[OrderUpdate] = []
        self.snapshots = 0

    def dump_state(self) -> dict[str, Any]:
        return {"position": str(self.position), "seq": self.seq}

    def on_market_data(self, snapshot, *, signal=None):
        self.snapshots += 1
        self.mids.append(snapshot.mid)
        slow_n, fast_n = self.params["slow_period"], self.params["fast_period"]
        if len(self.mids) < slow_n:
            return NO_INTENTS
        slow = sum(self.mids) / slow_n
        fast = sum(list(self.mids)[-fast_n:]) / fast_n
        qty = self.params["quantity"]
        target = qty if fast > slow else -qty if fast < slow else self.position
        delta = target - self.position
        if delta == 0:
            return NO_INTENTS
        self.position = target
        self.seq += 1
        side = "BUY" if delta > 0 else "SELL"
        return [OrderIntent(f"x-{self.seq}", self.symbol, side, abs(delta), reason="cross")]

    def on_order_update(self, update: OrderUpdate) -> None:
        self.updates.append(update)


class Scripted(Strategy):
    """Emits given intents at given snapshot numbers; records everything it is told."""

    kind = "technical"

    def __init__(self, *, script: dict[int, list[OrderIntent]], **kwargs):
        self.script = script
        super().__init__(**kwargs)

    def load_state(self, state):
        self.seen = []
        self.updates = []

    def dump_state(self):
        return {}

    def on_market_data(self, snapshot, *, signal=None):
        self.seen.append((snapshot, signal))
        return self.script.get(len(self.seen) - 1, NO_INTENTS)

    def on_order_update(self, update):
        self.updates.append((len(self.seen) - 1, update))
