"""Query filters of the list endpoints (django-filter; documented in the schema)."""

from __future__ import annotations

from datetime import UTC

import django_filters as filters
from django import forms
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import extend_schema_field

from trading.models import (
    Fill,
    FuturesSettings,
    Order,
    OrderSide,
    OrderSource,
    OrderStatus,
    Position,
    StrategyConfig,
    StrategyKind,
    StrategyPosition,
    StrategyStatus,
)

#: Largest id PostgreSQL's bigint holds: larger numbers are refused as input, not sent.
MAX_ID = 2**63 - 1


@extend_schema_field({"type": "integer", "minimum": 1})
class IdFilter(filters.NumberFilter):
    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class UtcIsoDateTimeField(IsoDateTimeField):
    """ISO 8601, converted to UTC here: PostgreSQL refuses some offsets Python accepts
    (beyond ±15:59), and a value must never reach the database it cannot take."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("Date and time out of range.", code="invalid") from None


class DateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("help_text", "ISO 8601, e.g. 2024-05-01T12:00:00Z.")
        super().__init__(*args, **kwargs)


class StrictBooleanField(forms.Field):
    """true or false (also 1/0): anything else is an error, not "no filter"."""

    VALUES = {"true": True, "1": True, "false": False, "0": False}

    def to_python(self, value):
        if value in (None, ""):
            return None
        try:
            return self.VALUES[str(value).strip().lower()]
        except KeyError:
            raise forms.ValidationError("Must be true or false.", code="invalid") from None


@extend_schema_field({"type": "boolean"})
class BooleanFilter(filters.BooleanFilter):
    field_class = StrictBooleanField


class SymbolFilter(filters.CharFilter):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault("help_text", "Exchange symbol, e.g. BTCUSDT.")
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        return super().filter(qs, value.strip().upper() if value else value)


class StrategyFilter(filters.FilterSet):
    symbol = SymbolFilter()
    kind = filters.ChoiceFilter(choices=StrategyKind.choices)
    is_active = BooleanFilter()
    status = filters.ChoiceFilter(choices=StrategyStatus.choices)

    class Meta:
        model = StrategyConfig
        fields = ["symbol", "kind", "is_active", "status"]


class OrderFilter(filters.FilterSet):
    symbol = SymbolFilter()
    status = filters.MultipleChoiceFilter(
        choices=OrderStatus.choices, help_text="Repeat for several: ?status=open&status=filled."
    )
    side = filters.ChoiceFilter(choices=OrderSide.choices)
    source = filters.ChoiceFilter(choices=OrderSource.choices)
    strategy = IdFilter(field_name="strategy_id", help_text="Strategy id.")
    created_after = DateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="ISO 8601, inclusive."
    )
    created_before = DateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="ISO 8601, exclusive."
    )

    class Meta:
        model = Order
        fields = ["symbol", "status", "side", "source", "strategy"]


class FillFilter(filters.FilterSet):
    symbol = SymbolFilter()
    side = filters.ChoiceFilter(choices=OrderSide.choices)
    strategy = IdFilter(field_name="strategy_id", help_text="Strategy id.")
    order = IdFilter(field_name="order_id", help_text="Order id.")
    executed_after = DateTimeFilter(
        field_name="executed_at", lookup_expr="gte", help_text="ISO 8601, inclusive."
    )
    executed_before = DateTimeFilter(
        field_name="executed_at", lookup_expr="lt", help_text="ISO 8601, exclusive."
    )

    class Meta:
        model = Fill
        fields = ["symbol", "side", "strategy", "order"]


class PositionFilter(filters.FilterSet):
    symbol = SymbolFilter()
    exchange = filters.CharFilter(max_length=20)
    open = BooleanFilter(method="filter_open", help_text="true: only non-flat positions.")

    class Meta:
        model = Position
        fields = ["symbol", "exchange"]

    def filter_open(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.exclude(quantity=0) if value else queryset.filter(quantity=0)


class StrategyPositionFilter(filters.FilterSet):
    strategy = IdFilter(field_name="strategy_id", help_text="Strategy id.")
    symbol = SymbolFilter()

    class Meta:
        model = StrategyPosition
        fields = ["strategy", "symbol"]


class FuturesSettingsFilter(filters.FilterSet):
    symbol = SymbolFilter()

    class Meta:
        model = FuturesSettings
        fields = ["symbol"]
