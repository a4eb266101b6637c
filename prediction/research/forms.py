"""The study form of the dashboard (the API takes the same fields as JSON)."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from prediction.research.models import Objective, Sampler
from prediction.signals import SIGNAL_STRATEGIES
from prediction.timeframes import TIMEFRAMES

DEFAULT_SPACE = {
    "fast": {"type": "int", "low": 5, "high": 40, "step": 5},
    "slow": {"type": "int", "low": 50, "high": 200, "step": 25},
}


def _json_object(text: str, label: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError as exc:
        raise forms.ValidationError(
            f"{label} is not JSON: {exc.msg} (line {exc.lineno})."
        ) from None
    if not isinstance(value, dict):
        raise forms.ValidationError(f"{label} must be a JSON object.")
    return value


class StudyForm(forms.Form):
    strategy = forms.ChoiceField(
        choices=[(n, n) for n in (*SIGNAL_STRATEGIES, "technical", "combined")],
        initial="trend_following",
    )
    symbol = forms.CharField(initial="BTCUSDT", max_length=20)
    timeframe = forms.ChoiceField(choices=[(t, t) for t in TIMEFRAMES], initial="1h")
    space = forms.CharField(
        initial=json.dumps(DEFAULT_SPACE, indent=1),
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text='Per parameter: {"type": "int"|"float"|"categorical", "low", "high", '
        '"step"} or {"type": "categorical", "choices": [...]}.',
    )
    fixed_params = forms.CharField(
        required=False,
        initial="{}",
        label="Fixed parameters (JSON)",
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
    )
    objective = forms.ChoiceField(choices=Objective.choices, initial=Objective.SHARPE)
    sampler = forms.ChoiceField(choices=Sampler.choices, initial=Sampler.TPE)
    n_trials = forms.IntegerField(min_value=1, max_value=5_000, initial=50, label="Trials")
    min_trades = forms.IntegerField(min_value=0, required=False, label="Min trades")
    max_drawdown = forms.FloatField(
        min_value=0.01, max_value=1, required=False, label="Max drawdown (fraction)"
    )
    seed = forms.IntegerField(required=False)

    def clean_space(self) -> dict[str, Any]:
        return _json_object(self.cleaned_data["space"], "The parameter space")

    def clean_fixed_params(self) -> dict[str, Any]:
        return _json_object(self.cleaned_data["fixed_params"], "Fixed parameters")

    def clean_symbol(self) -> str:
        return self.cleaned_data["symbol"].strip().upper()

    def launch_kwargs(self) -> dict[str, Any]:
        d = self.cleaned_data
        constraints = {}
        if d.get("min_trades") is not None:
            constraints["min_trades"] = d["min_trades"]
        if d.get("max_drawdown") is not None:
            constraints["max_drawdown"] = d["max_drawdown"]
        return {
            "strategy": d["strategy"],
            "symbol": d["symbol"],
            "timeframe": d["timeframe"],
            "space": d["space"],
            "fixed_params": d["fixed_params"],
            "objective": d["objective"],
            "sampler": d["sampler"],
            "n_trials": d["n_trials"],
            "constraints": constraints,
            "seed": d.get("seed"),
        }


class StrategyFromStudyForm(forms.Form):
    quantity = forms.DecimalField(
        min_value=0, max_digits=30, decimal_places=12, initial="0.001", required=False
    )
    trial = forms.IntegerField(min_value=0, required=False)


class WalkForwardForm(forms.Form):
    mode = forms.ChoiceField(choices=[("rolling", "rolling"), ("anchored", "anchored")])
    windows = forms.IntegerField(min_value=1, max_value=50, initial=4)
    oos_fraction = forms.FloatField(min_value=0.05, max_value=0.95, initial=0.25, label="OOS share")
    n_trials = forms.IntegerField(
        min_value=1, max_value=2_000, initial=30, label="Trials per window"
    )
