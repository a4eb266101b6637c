"""Trailing stop: follows the best mid and closes with a market order when it turns."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from exchanges.base import SELL, MarketSnapshot
from trading.strategies.base import NO_INTENTS, ExternalSignal, OrderIntent, register
from trading.strategies.common import dec, dec_str
from trading.strategies.execution import ExecutionAlgorithm

_ONE = Decimal(1)
_HUNDRED = Decimal(100)


@register
class TrailingStop(ExecutionAlgorithm):
    """Params: side, quantity, trail_percent, activation_price (optional),
    position_side, reduce_only (see params.TrailingStopParams).

    A SELL stop protects a long: once active (at the first snapshot, or once the mid
    reaches activation_price or higher) it tracks the highest mid and triggers when the
    mid is at or below high * (1 - trail_percent/100). A BUY stop protects a short: it
    activates at or below activation_price, tracks the lowest mid and triggers at or
    above low * (1 + trail_percent/100). The stop is held here, not on the exchange:
    when it triggers it sends one MARKET order for `quantity` (key "stop"). It fires
    once; only if that order ends with an unfilled part is the rest sent again at the
    next snapshot ("stop-r1", ...), halting after repeated refusals like every
    execution algorithm. `finished` once `quantity` is filled.
    """

    kind = "trailing_stop"
    label = "Trailing stop"
    total_param = "quantity"
    # A stop keeps following the price under the kill switch (the switch refuses its
    # order if it fires), and resends at every snapshot: refusals of any kind count
    # toward the halt, or a refused stop would send one refused order per tick.
    pausable = False
    risk_refusals_count = True

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        trail = self.params["trail_percent"] / _HUNDRED
        self._sell = self.side == SELL
        self._factor = (_ONE - trail) if self._sell else (_ONE + trail)
        self.activation_price: Decimal | None = self.params["activation_price"]
        #: Best mid since activation (highest for a SELL stop, lowest for a BUY stop);
        #: None while not active.
        self.extreme: Decimal | None = dec(state.get("extreme"))
        self.stop_price: Decimal | None = (
            None if self.extreme is None else self.extreme * self._factor
        )
        #: Stop orders sent (0: not triggered).
        self.fired: int = state.get("fired", 0)

    def dump_state(self) -> dict[str, Any]:
        return {**super().dump_state(), "extreme": dec_str(self.extreme), "fired": self.fired}

    @property
    def triggered(self) -> bool:
        return self.fired > 0

    def on_market_data(
        self, snapshot: MarketSnapshot, *, signal: ExternalSignal | None = None
    ) -> list[OrderIntent] | tuple[OrderIntent, ...]:
        if self.halt_reason is not None:
            self._raise_halted()
        if self.fired:
            return self._resend_rest()
        mid = snapshot.mid
        extreme = self.extreme
        if extreme is None:
            activation = self.activation_price
            if activation is not None and (mid < activation if self._sell else mid > activation):
                return NO_INTENTS
            self._set_extreme(mid)
            return NO_INTENTS
        if mid > extreme if self._sell else mid < extreme:
            self._set_extreme(mid)
            return NO_INTENTS
        if mid <= self.stop_price if self._sell else mid >= self.stop_price:
            self.fired = 1
            word = "high" if self._sell else "low"
            sign = "≤" if self._sell else "≥"
            reason = (
                f"Trailing stop {self.params['trail_percent']}% from {word} {extreme}: "
                f"mid {mid} {sign} {self.stop_price}"
            )
            return [self._child("stop", self.total, reason)]
        return NO_INTENTS

    def _set_extreme(self, mid: Decimal) -> None:
        self.extreme = mid
        self.stop_price = mid * self._factor

    def _resend_rest(self) -> list[OrderIntent] | tuple[OrderIntent, ...]:
        if self.children.live or self.finished:
            return NO_INTENTS
        rest = self.total - self.children.executed
        key = f"stop-r{self.fired}"
        self.fired += 1
        reason = f"Trailing stop: re-sending the unfilled {rest} of {self.total}"
        return [self._child(key, rest, reason)]
