"""Forms of the dashboard pages: they parse input; the services decide."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from django import forms

from trading.models import OrderSide, OrderStatus, StrategyConfig
from trading.selectors import AuditFilters, OrderFilters, audit_actions, order_symbols


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


class MarketForm(forms.Form):
    """The Market page's chart controls (a GET form)."""

    timeframe = forms.ChoiceField(initial="1m")
    strategy = forms.ModelChoiceField(
        required=False, queryset=StrategyConfig.objects.none(), empty_label="All strategies"
    )
    indicators = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, symbol: str, **kwargs) -> None:
        from prediction.timeframes import TIMEFRAMES
        from trading.charts import DEFAULT_INDICATORS, INDICATOR_GROUPS

        super().__init__(*args, **kwargs)
        self.fields["timeframe"].choices = [(t, t) for t in TIMEFRAMES]
        self.fields["strategy"].queryset = StrategyConfig.objects.filter(symbol=symbol)
        self.fields["indicators"].choices = [(k, v["label"]) for k, v in INDICATOR_GROUPS.items()]
        self.fields["indicators"].initial = list(DEFAULT_INDICATORS)
        self.default_indicators = list(DEFAULT_INDICATORS)

    def chart_params(self) -> dict:
        if not self.is_bound:
            return {"timeframe": "1m", "indicators": self.default_indicators, "strategy_id": None}
        self.is_valid()
        data = self.cleaned_data
        strategy = data.get("strategy")
        return {
            "timeframe": data.get("timeframe") or "1m",
            "indicators": data.get("indicators", []),
            "strategy_id": strategy.pk if strategy else None,
        }


class BacktestForm(forms.Form):
    strategy = forms.ChoiceField(
        help_text="Signal strategies run on the vectorised engine; the live trading "
        "strategies run bar by bar on the event-driven engine."
    )
    symbol = forms.ChoiceField()
    timeframe = forms.ChoiceField(initial="1h")
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Inclusive. Empty: everything stored.",
    )
    params = forms.CharField(
        required=False,
        initial="{}",
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text='Strategy parameters as JSON, e.g. {"fast": 10, "slow": 30}.',
    )
    initial_capital = forms.DecimalField(min_value=1, initial=10_000, label="Capital (USDT)")
    fee_rate = forms.DecimalField(
        min_value=0, max_value=5, initial="0.04", label="Fee (%)", decimal_places=4
    )
    slippage_bps = forms.DecimalField(min_value=0, max_value=500, initial=0, label="Slippage (bps)")

    def __init__(self, *args, catalogue: list[dict], symbols: list[str], **kwargs) -> None:
        from prediction.selectors import candle_timeframes
        from prediction.timeframes import TIMEFRAMES

        super().__init__(*args, **kwargs)
        #: Timeframes with real candles, per symbol: the only ones a run can use.
        self.timeframes_with_data = candle_timeframes()
        offered = {t for s in symbols for t in self.timeframes_with_data.get(s, ())}
        groups: dict[str, list[tuple[str, str]]] = {}
        for spec in catalogue:
            label = (
                "Signal strategies (vectorised)"
                if spec["engine"] == "vectorised"
                else "Trading strategies (event-driven)"
            )
            groups.setdefault(label, []).append((spec["name"], spec["title"]))
        self.fields["strategy"].choices = list(groups.items())
        self.fields["symbol"].choices = [(s, s) for s in symbols]
        self.fields["timeframe"].choices = [(t, t) for t in TIMEFRAMES if t in offered]

    def clean_params(self) -> dict:
        text = (self.cleaned_data.get("params") or "").strip() or "{}"
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not JSON: {exc.msg} (line {exc.lineno}).") from None
        if not isinstance(value, dict):
            raise forms.ValidationError('Parameters are a JSON object, e.g. {"fast": 10}.')
        return value

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            self.add_error("end", "The end date is before the start date.")
        symbol, timeframe = data.get("symbol"), data.get("timeframe")
        have = self.timeframes_with_data.get(symbol or "", [])
        if symbol and timeframe and timeframe not in have:
            self.add_error(
                "timeframe",
                f"No {timeframe} candles for {symbol}; "
                + (f"it has {', '.join(have)}." if have else "it has none stored."),
            )
        return data

    def launch_kwargs(self) -> dict:
        data = self.cleaned_data
        start, end = data.get("start"), data.get("end")
        return {
            "strategy": data["strategy"],
            "symbol": data["symbol"],
            "timeframe": data["timeframe"],
            "start": datetime(start.year, start.month, start.day, tzinfo=UTC) if start else None,
            "end": (datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1))
            if end
            else None,
            "params": data["params"],
            "settings": {
                "initial_capital": float(data["initial_capital"]),
                "fee_rate": float(data["fee_rate"]) / 100,
                "slippage_bps": float(data["slippage_bps"]),
            },
        }


class PlaceOrderForm(forms.Form):
    """The dashboard's Place order dialog; `confirm` empty asks for the preview first."""

    symbol = forms.ChoiceField()
    side = forms.ChoiceField(choices=OrderSide.choices)
    order_type = forms.ChoiceField(choices=[("MARKET", "Market"), ("LIMIT", "Limit")])
    quantity = forms.DecimalField(max_digits=30, decimal_places=12, min_value=Decimal("1e-12"))
    price = forms.DecimalField(
        max_digits=30, decimal_places=12, min_value=Decimal("1e-12"), required=False
    )
    reduce_only = forms.BooleanField(required=False)
    confirm = forms.BooleanField(required=False)

    def __init__(self, *args, symbols: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["symbol"].choices = [(s, s) for s in symbols]

    def clean(self) -> dict:
        data = super().clean()
        if data.get("order_type") == "LIMIT" and not data.get("price"):
            self.add_error("price", "A limit order needs a price.")
        if data.get("order_type") == "MARKET":
            data["price"] = None
        return data


class CancelOpenOrdersForm(forms.Form):
    """Which working orders the dashboard's Cancel open orders dialog cancels:
    "all", "symbol:BTCUSDT" or "strategy:3"."""

    scope = forms.CharField()

    def clean_scope(self) -> dict:
        scope = self.cleaned_data["scope"]
        kind, _, value = scope.partition(":")
        if kind == "all" and not value:
            return {"symbols": None, "strategy_id": None}
        if kind == "symbol" and value:
            return {"symbols": [value], "strategy_id": None}
        if kind == "strategy" and value.isdigit():
            return {"symbols": None, "strategy_id": int(value)}
        raise forms.ValidationError("Choose all, one symbol or one strategy.")


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(required=False)
    actor = forms.CharField(required=False, max_length=150, label="Who")
    target = forms.CharField(required=False, max_length=100, label="What")
    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", "Any action")] + [(a, a) for a in audit_actions()]

    def filters(self) -> AuditFilters:
        """The valid part of the input (an invalid field filters nothing); dates are
        whole UTC days."""
        self.is_valid()
        data = self.cleaned_data
        since, until = data.get("since"), data.get("until")
        return AuditFilters(
            action=data.get("action") or "",
            actor=(data.get("actor") or "").strip(),
            target=(data.get("target") or "").strip(),
            since=datetime.combine(since, time.min, tzinfo=UTC) if since else None,
            until=datetime.combine(until, time.min, tzinfo=UTC) + timedelta(days=1)
            if until
            else None,
        )
