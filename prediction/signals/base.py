"""Signal strategies: indicator rules that say, for every bar, which position to hold.

A signal strategy is vectorised: it maps whole arrays of bars to a target position per
bar (+1 long, -1 short, 0 flat), decided at the bar's close. The backtester fills that
decision at the next bar's open, so a signal never trades on a price it could not know.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from rest_framework import serializers

from prediction.indicators import OHLCV, Array, validate_serializer
from xquant.errors import ValidationError


@dataclass(slots=True)
class SignalResult:
    #: Target position per bar, decided at its close: int8 in {-1, 0, 1}.
    position: Array
    #: Indicator columns the rules used, for reasons and charts.
    indicators: dict[str, Array]
    #: Bars needed before the first decision is meaningful.
    warmup: int


def state_from_events(entries: Array, exits: Array) -> Array:
    """1 from an entry bar until (excluding) the next exit bar, 0 otherwise.

    An entry and an exit on the same bar: the entry wins (the rule fired anew).
    """
    marks = np.full(len(entries), np.nan)
    marks[exits] = 0.0
    marks[entries] = 1.0
    # Forward fill: the index of the last marked bar, then take its mark.
    idx = np.where(~np.isnan(marks), np.arange(len(marks)), -1)
    np.maximum.accumulate(idx, out=idx)
    out = np.where(idx >= 0, marks[np.maximum(idx, 0)], 0.0)
    return out


def combine_sides(
    long_entries: Array, long_exits: Array, short_entries: Array | None, short_exits: Array | None
) -> Array:
    """Target position from long and short rules. An entry on one side is also an exit of
    the other (a short entry reverses a long); both sides entering on the same bar cancel
    out (flat): the rules disagree."""
    if short_entries is None:
        return state_from_events(long_entries, long_exits).astype(np.int8)
    # Opposite entries on one bar are an exit for both sides, an entry for neither.
    long_on = state_from_events(long_entries & ~short_entries, long_exits | short_entries)
    short_on = state_from_events(short_entries & ~long_entries, short_exits | long_entries)
    return (long_on - short_on).astype(np.int8)


class SignalStrategy(abc.ABC):
    name: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    params_serializer: ClassVar[type[serializers.Serializer]]

    def __init__(self, params: dict[str, Any] | None = None):
        self.params = signal_params(self.name, params, self.params_serializer)

    @abc.abstractmethod
    def compute(self, bars: OHLCV) -> SignalResult: ...

    @abc.abstractmethod
    def reasons(self, bars: OHLCV, result: SignalResult, i: int) -> list[str]:
        """Why bar i's target position is what it is, in words with the numbers."""


def signal_params(
    name: str, params: dict[str, Any] | None, serializer_class: type[serializers.Serializer]
) -> dict[str, Any]:
    return validate_serializer(serializer_class, params or {}, f"{name} parameters")


class PeriodPairMixin:
    """Refuses a fast period that is not faster than the slow one."""

    fast_field = "fast"
    slow_field = "slow"

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        fast, slow = attrs[self.fast_field], attrs[self.slow_field]
        if fast >= slow:
            raise serializers.ValidationError(
                {
                    self.fast_field: [
                        f"{self.fast_field} ({fast}) must be smaller than {self.slow_field} ({slow})."
                    ]
                }
            )
        return attrs


def unknown_strategy(name: str, known: list[str]) -> ValidationError:
    return ValidationError(
        f"Unknown signal strategy {name!r}. Allowed: {', '.join(known)}.",
        extra={"fields": {"strategy": [f"Unknown signal strategy {name!r}."]}},
    )
