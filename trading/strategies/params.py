"""Parameters of each strategy kind: types, ranges, defaults and cross-field rules.

One serializer per kind. The admin form, the API and the strategy classes all validate
through `validate_params`, so a parameter is accepted or refused the same way
everywhere, with a message that says what is allowed.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from rest_framework import serializers

from xquant.errors import ValidationError

_MONEY = {"max_digits": 30, "decimal_places": 12}
_POSITIVE = Decimal("0.000000000001")


def plain_decimal(value: Decimal) -> Decimal:
    """Without trailing zeros or exponent: 0.500000 -> 0.5, 1E+2 -> 100."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


class DecimalField(serializers.DecimalField):
    """DRF's DecimalField pads to decimal_places (0.5 -> 0.500000000000); parameters read
    better, in messages and in the stored JSON, exactly as the user wrote them."""

    def to_internal_value(self, data: Any) -> Decimal:
        return plain_decimal(super().to_internal_value(data))


def _quantity(**kwargs: Any) -> DecimalField:
    return DecimalField(**_MONEY, min_value=_POSITIVE, **kwargs)


class StrictParams(serializers.Serializer):
    """Refuses keys it does not know: a typo must not silently fall back to a default."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {"non_field_errors": ["Parameters must be a JSON object."]}
            )
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            allowed = ", ".join(sorted(self.fields))
            raise serializers.ValidationError(
                {name: [f"Unknown parameter. Allowed: {allowed}."] for name in unknown}
            )
        return super().to_internal_value(data)


class OrderPlacementParams(StrictParams):
    side = serializers.ChoiceField(choices=["BUY", "SELL"])
    position_side = serializers.ChoiceField(choices=["BOTH", "LONG", "SHORT"], default="BOTH")
    reduce_only = serializers.BooleanField(default=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("reduce_only") and attrs.get("position_side") != "BOTH":
            raise serializers.ValidationError(
                {"reduce_only": ["reduce_only applies to one-way mode (position_side BOTH) only."]}
            )
        return attrs


class TWAPParams(OrderPlacementParams):
    total_quantity = _quantity(help_text="Parent quantity, in base units.")
    slices = serializers.IntegerField(min_value=1, max_value=10_000)
    interval_seconds = serializers.IntegerField(min_value=1, max_value=86_400)
    order_type = serializers.ChoiceField(choices=["MARKET", "LIMIT"], default="MARKET")
    limit_offset_bps = DecimalField(
        max_digits=8,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=Decimal("1000"),
        default=Decimal("0"),
        help_text="LIMIT slices: price this many basis points better than mid.",
    )


class VWAPParams(OrderPlacementParams):
    total_quantity = _quantity()
    volume_profile = serializers.ListField(
        child=DecimalField(**_MONEY, min_value=Decimal("0")),
        min_length=1,
        max_length=1_440,
        help_text="Relative volume per interval; slice i gets total × profile[i] / sum.",
    )
    interval_seconds = serializers.IntegerField(min_value=1, max_value=86_400)

    def validate_volume_profile(self, value: list[Decimal]) -> list[Decimal]:
        if sum(value) <= 0:
            raise serializers.ValidationError("At least one interval needs a positive volume.")
        return value


class IcebergParams(OrderPlacementParams):
    total_quantity = _quantity()
    visible_quantity = _quantity(help_text="Largest quantity shown on the book at once.")
    limit_price = DecimalField(
        **_MONEY,
        min_value=_POSITIVE,
        required=False,
        allow_null=True,
        default=None,
        help_text="Fixed limit price; when empty each slice is priced at the mid.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if attrs["visible_quantity"] > attrs["total_quantity"]:
            raise serializers.ValidationError(
                {
                    "visible_quantity": [
                        f"visible_quantity {attrs['visible_quantity']} exceeds total_quantity "
                        f"{attrs['total_quantity']}."
                    ]
                }
            )
        return attrs


class TrailingStopParams(OrderPlacementParams):
    quantity = _quantity(help_text="Quantity the stop closes when it triggers.")
    trail_percent = DecimalField(
        max_digits=8,
        decimal_places=4,
        min_value=Decimal("0.01"),
        max_value=Decimal("50"),
        help_text="Distance of the stop from the best price seen, in percent.",
    )
    activation_price = DecimalField(
        **_MONEY,
        min_value=_POSITIVE,
        required=False,
        allow_null=True,
        default=None,
        help_text="The stop starts trailing once the price reaches this level.",
    )


class TechnicalSignalParams(StrictParams):
    signal = serializers.ChoiceField(choices=["ma_cross", "rsi"])
    quantity = _quantity(help_text="Quantity of each entry.")
    bar_seconds = serializers.IntegerField(
        min_value=1, max_value=86_400, default=60, help_text="Bar length built from ticks."
    )
    fast_period = serializers.IntegerField(min_value=1, max_value=1_000, default=10)
    slow_period = serializers.IntegerField(min_value=2, max_value=1_000, default=30)
    rsi_period = serializers.IntegerField(min_value=2, max_value=1_000, default=14)
    rsi_oversold = DecimalField(
        max_digits=5,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        default=Decimal("30"),
    )
    rsi_overbought = DecimalField(
        max_digits=5,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        default=Decimal("70"),
    )
    allow_short = serializers.BooleanField(default=False)
    size_by_confidence = serializers.BooleanField(
        default=False,
        help_text=(
            "Scale each entry by the prediction service's confidence when its direction "
            "agrees (no entry when it disagrees). Exits are never scaled."
        ),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["fast_period"] >= attrs["slow_period"]:
            raise serializers.ValidationError(
                {
                    "fast_period": [
                        f"fast_period ({attrs['fast_period']}) must be smaller than slow_period "
                        f"({attrs['slow_period']})."
                    ]
                }
            )
        if attrs["rsi_oversold"] >= attrs["rsi_overbought"]:
            raise serializers.ValidationError(
                {
                    "rsi_oversold": [
                        f"rsi_oversold ({attrs['rsi_oversold']}) must be below rsi_overbought "
                        f"({attrs['rsi_overbought']})."
                    ]
                }
            )
        return attrs


class TechnicalParams(TechnicalSignalParams):
    pass


class CombinedParams(TechnicalSignalParams):
    execution = serializers.ChoiceField(choices=["twap", "vwap", "iceberg"])
    slices = serializers.IntegerField(min_value=1, max_value=10_000, required=False)
    interval_seconds = serializers.IntegerField(min_value=1, max_value=86_400, required=False)
    volume_profile = serializers.ListField(
        child=DecimalField(**_MONEY, min_value=Decimal("0")),
        min_length=1,
        max_length=1_440,
        required=False,
    )
    visible_quantity = _quantity(required=False)

    # What each execution algorithm needs besides the entry quantity.
    REQUIRED_BY_EXECUTION = {
        "twap": ("slices", "interval_seconds"),
        "vwap": ("volume_profile", "interval_seconds"),
        "iceberg": ("visible_quantity",),
    }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        missing = [f for f in self.REQUIRED_BY_EXECUTION[attrs["execution"]] if f not in attrs]
        if missing:
            raise serializers.ValidationError(
                {f: [f"Required when execution is {attrs['execution']}."] for f in missing}
            )
        if "volume_profile" in attrs and sum(attrs["volume_profile"]) <= 0:
            raise serializers.ValidationError(
                {"volume_profile": ["At least one interval needs a positive volume."]}
            )
        if attrs.get("visible_quantity") and attrs["visible_quantity"] > attrs["quantity"]:
            raise serializers.ValidationError(
                {"visible_quantity": ["visible_quantity cannot exceed quantity."]}
            )
        return attrs


PARAMS_BY_KIND: dict[str, type[StrictParams]] = {
    "twap": TWAPParams,
    "vwap": VWAPParams,
    "iceberg": IcebergParams,
    "trailing_stop": TrailingStopParams,
    "technical": TechnicalParams,
    "combined": CombinedParams,
}


def _flatten(detail: Any) -> list[str]:
    if isinstance(detail, dict):
        return [m for v in detail.values() for m in _flatten(v)]
    if isinstance(detail, list):
        return [m for v in detail for m in _flatten(v)]
    return [str(detail)]


def validate_params(kind: str, params: Any) -> dict[str, Any]:
    """Validated, typed parameters (Decimals, ints, defaults filled in) for a kind.

    Raises xquant ValidationError with `extra["fields"]` mapping each bad parameter to
    its messages.
    """
    try:
        serializer_class = PARAMS_BY_KIND[kind]
    except KeyError:
        raise ValidationError(
            f"Unknown strategy kind {kind!r}. Allowed: {', '.join(PARAMS_BY_KIND)}.",
            extra={"fields": {"kind": [f"Unknown strategy kind {kind!r}."]}},
        ) from None
    serializer = serializer_class(data=params)
    if not serializer.is_valid():
        fields = {name: _flatten(messages) for name, messages in serializer.errors.items()}
        summary = "; ".join(
            f"{name}: {' '.join(messages)}" if name != "non_field_errors" else " ".join(messages)
            for name, messages in fields.items()
        )
        raise ValidationError(f"Invalid {kind} parameters: {summary}", extra={"fields": fields})
    return dict(serializer.validated_data)


def params_to_json(params: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe form for storage: Decimals become strings, never floats."""
    return json.loads(json.dumps(params, cls=DjangoJSONEncoder))


def normalize_params(kind: str, params: Any) -> dict[str, Any]:
    """Validate and return the form stored in StrategyConfig.params."""
    return params_to_json(validate_params(kind, params))
