"""TWAP: the parent quantity in equal slices, one per interval from the first snapshot."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from exchanges.base import BUY, MarketSnapshot
from trading.strategies.base import register
from trading.strategies.execution import ScheduledExecution

_ONE = Decimal(1)
_BPS = Decimal(10_000)


@register
class TWAP(ScheduledExecution):
    """Params: side, total_quantity, slices, interval_seconds, order_type (MARKET|LIMIT),
    limit_offset_bps, position_side, reduce_only (see params.TWAPParams).

    Slice i (0-based) is due at first snapshot + i * interval_seconds. Without rules each
    slice is total/slices (the last takes the remainder); with rules the cumulative
    targets are rounded down to the step, so every slice is on the grid and they still
    sum exactly to total_quantity. LIMIT slices are priced limit_offset_bps better than
    the mid of the snapshot that sends them (below it for a buy, above for a sell).
    """

    kind = "twap"
    label = "TWAP"

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        offset = self.params["limit_offset_bps"] / _BPS
        self._limit_factor = (_ONE - offset) if self.side == BUY else (_ONE + offset)
        self._limit = self.params["order_type"] == "LIMIT"

    def _weights(self) -> list[Decimal]:
        return [_ONE] * self.params["slices"]

    def _slice_price(self, snapshot: MarketSnapshot) -> Decimal | None:
        if not self._limit:
            return None
        return self._price(snapshot.mid * self._limit_factor)
