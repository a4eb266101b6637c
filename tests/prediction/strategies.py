"""Small strategies on the live contract (trading.strategies.base.Strategy), for engine tests."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from trading.strategies.base import NO_INTENTS, OrderIntent, OrderUpdate, Strategy

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TinyMaCross(Strategy):
    """Long while SMA(fast) > SMA(slow) of bar closes, short while below (the state rule);
    market orders. Bars as the live classes build them: a bar's close is the mid of its
    last snapshot, and the first snapshot of a later bar closes it."""

    kind = "technical"  # validated with the Technical parameters; never registered

    def load_state(self, state: dict[str, Any]) -> None:
        self.closes: deque[Decimal] = deque(maxlen=self.params["slow_period"])
        self.bar = timedelta(seconds=self.params["bar_seconds"])
        self.bar_end: datetime | None = None
        self.last_mid: Decimal | None = None
        self.position = Decimal(state.get("position", "0"))
        self.seq = int(state.get("seq", 0))
        self.updates: list[OrderUpdate] = []
        self.snapshots = 0

    def dump_state(self) -> dict[str, Any]:
        return {"position": str(self.position), "seq": self.seq}

    def on_market_data(self, snapshot, *, signal=None):
        self.snapshots += 1
        ts = snapshot.timestamp
        closing = self.bar_end is not None and ts >= self.bar_end
        if self.bar_end is None or closing:
            self.bar_end = ts - (ts - _EPOCH) % self.bar + self.bar
        previous, self.last_mid = self.last_mid, snapshot.mid
        if not closing:
            return NO_INTENTS
        self.closes.append(previous)
        slow_n, fast_n = self.params["slow_period"], self.params["fast_period"]
        if len(self.closes) < slow_n:
            return NO_INTENTS
        slow = sum(self.closes) / slow_n
        fast = sum(list(self.closes)[-fast_n:]) / fast_n
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
