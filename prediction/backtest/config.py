"""Backtest settings shared by both engines, validated like every other input."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from rest_framework import serializers

from prediction.indicators import validate_serializer

SIZINGS = ("fraction", "fixed", "strategy")


@dataclass(frozen=True, slots=True)
class BacktestSettings:
    initial_capital: float = 10_000.0
    #: Fee per fill, as a fraction of the notional (Binance USDT-M taker: 0.0004).
    fee_rate: float = 0.0004
    #: Each fill's price moves this many basis points against us (buys higher, sells lower).
    slippage_bps: float = 0.0
    #: "fraction": each entry commits `fraction` * equity at entry (fractional units).
    #: "fixed": each entry trades `quantity` base units.
    #: "strategy" (event-driven engine only): the live class's own order quantities.
    sizing: str = "fraction"
    fraction: float = 1.0
    quantity: float = 1.0
    #: Fraction sizing: True, the established convention (backtesting.py, vectorbt): the
    #: entry's notional plus its fee is `fraction` * equity, so fraction 1 is all-in with
    #: no borrowing. False: the notional is `fraction` * equity and the fee comes on top.
    fee_inside: bool = True
    #: Annualisation of Sharpe and Sortino: None derives it from the bars' own times
    #: (about 252 for daily stock bars, 365 for daily crypto bars); a number states it.
    periods_per_year: float | None = None
    #: Event-driven engine: the snapshot's bid/ask sit this many basis points apart,
    #: centred on the bar's close (bars carry no quotes; 1 bp is typical of BTCUSDT).
    spread_bps: float = 1.0
    #: Event-driven engine: price grid of the snapshot quotes and fills.
    tick_size: float = 0.01

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class NumberField(serializers.FloatField):
    """A JSON number (or a numeric string): `true` and `false` are not 1 and 0."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class BacktestSettingsSerializer(serializers.Serializer):
    initial_capital = NumberField(min_value=1.0, max_value=1e12, default=10_000.0)
    fee_rate = NumberField(min_value=0.0, max_value=0.05, default=0.0004)
    slippage_bps = NumberField(min_value=0.0, max_value=500.0, default=0.0)
    sizing = serializers.ChoiceField(
        choices=list(SIZINGS),
        required=False,
        help_text=(
            "fraction | fixed | strategy (event-driven only: the strategy's own quantities). "
            "Default: fraction on the vectorised engine, strategy on the event-driven one."
        ),
    )
    fraction = NumberField(
        min_value=0.001, max_value=10.0, default=1.0, help_text="Above 1 means leverage."
    )
    quantity = NumberField(min_value=1e-9, max_value=1e9, default=1.0)
    fee_inside = serializers.BooleanField(
        default=True,
        help_text="Fraction sizing: notional + fee = fraction × equity (else the fee is on top).",
    )
    periods_per_year = NumberField(
        min_value=1.0,
        max_value=1e8,
        required=False,
        allow_null=True,
        default=None,
        help_text="Annualisation; left out, it comes from the bars' own timestamps.",
    )
    spread_bps = NumberField(min_value=0.0, max_value=500.0, default=1.0)
    tick_size = NumberField(min_value=1e-9, max_value=1e6, default=0.01)


def backtest_settings(
    data: dict[str, Any] | None = None, *, default_sizing: str = "fraction"
) -> BacktestSettings:
    """Validated settings; `sizing` left out is `default_sizing` (the engine's own)."""
    values = validate_serializer(BacktestSettingsSerializer, data or {}, "backtest settings")
    values.setdefault("sizing", default_sizing)
    return BacktestSettings(**values)
