"""Request and response shapes of /api/research/ (validation of the study itself is the
service's: the parameter space against the strategy's own rules, settings, objective)."""

from __future__ import annotations

from rest_framework import serializers

from prediction.research.models import Objective, Sampler, Study, WalkForward
from prediction.serializers import SymbolField
from prediction.timeframes import TIMEFRAMES


class StudyRequest(serializers.Serializer):
    strategy = serializers.CharField(
        help_text="Signal strategy (vectorised engine) or trading kind (event-driven)."
    )
    symbol = SymbolField(default="BTCUSDT")
    timeframe = serializers.ChoiceField(choices=TIMEFRAMES, default="1h")
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)
    space = serializers.DictField(
        help_text='{"fast": {"type": "int", "low": 5, "high": 50, "step": 5}, '
        '"ma_type": {"type": "categorical", "choices": ["sma", "ema"]}}'
    )
    fixed_params = serializers.DictField(required=False, default=dict)
    settings = serializers.DictField(required=False, default=dict, help_text="Backtest settings.")
    objective = serializers.ChoiceField(choices=Objective.choices, default=Objective.SHARPE)
    constraints = serializers.DictField(
        required=False, default=dict, help_text='{"min_trades": 10, "max_drawdown": 0.25}'
    )
    sampler = serializers.ChoiceField(choices=Sampler.choices, default=Sampler.TPE)
    n_trials = serializers.IntegerField(min_value=1, max_value=5_000, default=50)
    seed = serializers.IntegerField(required=False, allow_null=True, default=None)
    parallelism = serializers.IntegerField(min_value=1, max_value=64, default=4)
    pruning = serializers.BooleanField(default=False)
    synthetic = serializers.BooleanField(default=False)
    name = serializers.CharField(required=False, default="", allow_blank=True, max_length=100)


class WalkForwardRequest(StudyRequest):
    mode = serializers.ChoiceField(choices=["rolling", "anchored"], default="rolling")
    windows = serializers.IntegerField(min_value=1, max_value=50, default=4)
    oos_fraction = serializers.FloatField(min_value=0.01, max_value=0.99, default=0.25)
    study = serializers.IntegerField(required=False, allow_null=True, default=None)
    n_trials = serializers.IntegerField(min_value=1, max_value=5_000, default=30)


class StudySerializer(serializers.ModelSerializer):
    progress = serializers.IntegerField(read_only=True)
    settings = serializers.JSONField(source="config")

    class Meta:
        model = Study
        fields = [
            "id",
            "name",
            "strategy",
            "engine",
            "symbol",
            "timeframe",
            "start",
            "end",
            "synthetic",
            "space",
            "fixed_params",
            "settings",
            "objective",
            "constraints",
            "sampler",
            "n_trials",
            "seed",
            "parallelism",
            "pruning",
            "status",
            "trials_done",
            "progress",
            "bar_count",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]


class StudyDetailSerializer(StudySerializer):
    class Meta(StudySerializer.Meta):
        fields = [*StudySerializer.Meta.fields, "data", "results"]


class TrialSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    state = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    params = serializers.DictField()
    metrics = serializers.DictField()
    infeasible = serializers.ListField(child=serializers.CharField())
    reason = serializers.CharField()
    duration = serializers.FloatField(allow_null=True)


class StrategyFromStudyRequest(serializers.Serializer):
    trial = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="Default: the best trial."
    )
    name = serializers.CharField(required=False, allow_null=True, default=None, max_length=100)
    quantity = serializers.DecimalField(
        max_digits=30,
        decimal_places=12,
        required=False,
        allow_null=True,
        default=None,
        help_text="Entry quantity of the live strategy (default 0.001).",
    )


class WalkForwardSerializer(serializers.ModelSerializer):
    settings = serializers.JSONField(source="config")

    class Meta:
        model = WalkForward
        fields = [
            "id",
            "strategy",
            "engine",
            "symbol",
            "timeframe",
            "start",
            "end",
            "space",
            "fixed_params",
            "settings",
            "objective",
            "constraints",
            "sampler",
            "n_trials",
            "seed",
            "mode",
            "windows",
            "oos_fraction",
            "study",
            "status",
            "windows_done",
            "error",
            "created_at",
            "finished_at",
        ]


class WalkForwardDetailSerializer(WalkForwardSerializer):
    class Meta(WalkForwardSerializer.Meta):
        fields = [*WalkForwardSerializer.Meta.fields, "results"]


class CheckQuery(serializers.Serializer):
    strategy = serializers.CharField()
    symbol = SymbolField(default="BTCUSDT")
    timeframe = serializers.ChoiceField(choices=TIMEFRAMES, default="1h")
    params = serializers.JSONField(required=False, default=dict)
