"""Decimals in the admin as people write them: 0.01, not 0.010000000000.

The database keeps 12 decimal places for every amount (trading.models), and Django's
admin shows a DecimalField with all of them, in lists, read-only pages and form inputs
alike. PlainDecimalsMixin shows the stored value exactly, without the trailing zeros
(money with at least cents); nothing is rounded away.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.db import models

#: Fields whose names contain one of these are money: shown with at least two decimals.
MONEY_WORDS = ("pnl", "fee", "notional", "limit", "balance", "margin", "equity")
CENT = Decimal("0.01")


def plain_decimal(value: Decimal | None, *, money: bool = False) -> str:
    if value is None:
        return "-"
    text = format(value.normalize(), "f")
    if money and value == value.quantize(CENT):
        text = format(value.quantize(CENT), "f")
    return text


def _is_money(name: str) -> bool:
    return any(word in name for word in MONEY_WORDS)


class PlainDecimalFormField(forms.DecimalField):
    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, Decimal):
            return plain_decimal(value)
        return value


def _column(field: models.DecimalField):
    money = _is_money(field.name)

    def column(obj: models.Model) -> str:
        return plain_decimal(getattr(obj, field.name), money=money)

    column.short_description = field.verbose_name  # type: ignore[attr-defined]
    column.admin_order_field = field.name  # type: ignore[attr-defined]
    return column


class PlainDecimalsMixin:
    """For a ModelAdmin: decimal columns, read-only values and inputs without the
    padding. A column or read-only field `name` is shown by `<name>_plain`."""

    def __init__(self, model, admin_site) -> None:
        self._decimals = {
            field.name: field
            for field in model._meta.fields
            if isinstance(field, models.DecimalField)
        }
        for name, field in self._decimals.items():
            setattr(self, f"{name}_plain", _column(field))
        super().__init__(model, admin_site)

    def _plain(self, names) -> list:
        return [f"{n}_plain" if isinstance(n, str) and n in self._decimals else n for n in names]

    def get_list_display(self, request):
        return self._plain(super().get_list_display(request))

    def get_readonly_fields(self, request, obj=None):
        return self._plain(super().get_readonly_fields(request, obj))

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.DecimalField):
            kwargs.setdefault("form_class", PlainDecimalFormField)
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class PlainDecimalsReadOnlyMixin(PlainDecimalsMixin):
    """For an admin without change permission, where Django shows every field
    read-only: the decimal ones by their plain display."""

    def get_fields(self, request, obj=None):
        fields = self._plain(super().get_fields(request, obj))
        return list(dict.fromkeys(fields))

    def get_readonly_fields(self, request, obj=None):
        # Every plain display is read-only, hence left out of the (empty) form.
        own = super().get_readonly_fields(request, obj)
        return [*own, *(f"{n}_plain" for n in self._decimals if f"{n}_plain" not in own)]
