"""VWAP: the parent quantity spread over intervals in proportion to a volume profile."""

from __future__ import annotations

from decimal import Decimal

from trading.strategies.base import register
from trading.strategies.execution import ScheduledExecution


@register
class VWAP(ScheduledExecution):
    """Params: side, total_quantity, volume_profile, interval_seconds, position_side,
    reduce_only (see params.VWAPParams).

    Slice i is due at first snapshot + i * interval_seconds and is
    total * profile[i] / sum(profile); the last slice takes the remainder, so slices sum
    exactly to total_quantity (with rules, cumulative targets are rounded down to the
    step). An interval with zero volume sends nothing unless a refused earlier slice
    left quantity to catch up. Slices are market orders.
    """

    kind = "vwap"
    label = "VWAP"

    def _weights(self) -> list[Decimal]:
        return list(self.params["volume_profile"])
