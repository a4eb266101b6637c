"""Forms of the dashboard pages: they parse input; the services decide."""

from __future__ import annotations

from django import forms

from trading.models import OrderSide, OrderStatus, StrategyConfig
from trading.selectors import OrderFilters, order_symbols


class OrderFilterForm(forms.Form):
    symbol = forms.ChoiceField(required=False)
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *OrderStatus.choices])
    strategy = forms.ModelChoiceField(
        required=False, queryset=StrategyConfig.objects.all(), empty_label="Any strategy"
    )
    side = forms.ChoiceField(required=False, choices=[("", "Any side"), *OrderSide.choices])
    created_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    created_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["symbol"].choices = [("", "Any symbol")] + [(s, s) for s in order_symbols()]

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("created_from"), data.get("created_to")
        if start and end and start > end:
            self.add_error("created_to", "The end date is before the start date.")
        return data

    def filters(self) -> OrderFilters:
        """The valid part of the input (an invalid field filters nothing)."""
        self.is_valid()  # cleaned_data then holds the fields that are valid
        data = self.cleaned_data
        strategy = data.get("strategy")
        return OrderFilters(
            symbol=data.get("symbol") or None,
            status=data.get("status") or None,
            strategy_id=strategy.pk if strategy else None,
            side=data.get("side") or None,
            created_from=data.get("created_from"),
            created_to=data.get("created_to"),
        )


class StrategyToggleForm(forms.Form):
    active = forms.TypedChoiceField(
        choices=[("true", "on"), ("false", "off")], coerce=lambda value: value == "true"
    )


class KillSwitchForm(forms.Form):
    action = forms.ChoiceField(choices=[("engage", "Engage"), ("release", "Release")])
    reason = forms.CharField(
        max_length=200,
        strip=True,
        error_messages={"required": "Say why: it is kept on the risk record and in the log."},
    )
