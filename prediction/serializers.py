"""API request and response serializers of the research endpoints (also their OpenAPI
documentation)."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from prediction.backtest.config import BacktestSettingsSerializer
from prediction.models import BacktestEngine, BacktestRun
from prediction.predict import PredictParams
from prediction.timeframes import TIMEFRAMES

RESERVED_QUERY = {"symbol", "timeframe", "start", "end", "limit", "strategy", "history", "format"}


class SymbolField(serializers.RegexField):
    def __init__(self, **kwargs):
        super().__init__(
            settings.SYMBOL_PATTERN,
            error_messages={"invalid": "Use the exchange symbol in capitals, e.g. BTCUSDT."},
            **kwargs,
        )


class RangeQuery(serializers.Serializer):
    symbol = SymbolField(help_text="Exchange symbol, e.g. BTCUSDT.")
    timeframe = serializers.ChoiceField(choices=TIMEFRAMES, default="1h")
    start = serializers.DateTimeField(required=False, help_text="UTC, inclusive (ISO 8601).")
    end = serializers.DateTimeField(required=False, help_text="UTC, exclusive (ISO 8601).")
    limit = serializers.IntegerField(
        min_value=1, max_value=5_000, default=500, help_text="Most recent bars of the range."
    )

    def validate(self, attrs):
        if attrs.get("start") and attrs.get("end") and attrs["start"] >= attrs["end"]:
            raise serializers.ValidationError({"start": ["start must be before end."]})
        return attrs


class CandleSerializer(serializers.Serializer):
    open_time = serializers.DateTimeField()
    open = serializers.DecimalField(max_digits=30, decimal_places=12, coerce_to_string=True)
    high = serializers.DecimalField(max_digits=30, decimal_places=12, coerce_to_string=True)
    low = serializers.DecimalField(max_digits=30, decimal_places=12, coerce_to_string=True)
    close = serializers.DecimalField(max_digits=30, decimal_places=12, coerce_to_string=True)
    volume = serializers.DecimalField(max_digits=40, decimal_places=12, coerce_to_string=True)


class MarketDataResponse(serializers.Serializer):
    symbol = serializers.CharField()
    timeframe = serializers.CharField()
    count = serializers.IntegerField()
    candles = CandleSerializer(many=True)


class IndicatorsResponse(serializers.Serializer):
    symbol = serializers.CharField()
    timeframe = serializers.CharField()
    params = serializers.DictField(help_text="Indicator windows used, defaults filled in.")
    latest = serializers.DictField(
        child=serializers.FloatField(allow_null=True),
        help_text="Values at the last bar's close; null during warm-up.",
    )
    series = serializers.ListField(
        child=serializers.DictField(),
        help_text="One object per bar: open_time, close and every indicator column.",
    )


class SignalsQuery(RangeQuery):
    strategy = serializers.ChoiceField(
        choices=["trend_following", "mean_reversion", "macd_stochrsi", "bollinger"],
        default="trend_following",
        help_text="Other query parameters are the strategy's parameters (see /api/research/strategies).",
    )
    history = serializers.IntegerField(
        min_value=0, max_value=1_000, default=50, help_text="Most recent position changes returned."
    )


class SignalPoint(serializers.Serializer):
    time = serializers.DateTimeField(help_text="Close of the bar the decision was taken on.")
    signal = serializers.ChoiceField(choices=["long", "short", "flat"])
    price = serializers.FloatField(help_text="Close of that bar.")


class LatestSignal(SignalPoint):
    action = serializers.ChoiceField(
        choices=["enter_long", "enter_short", "exit", "reverse_to_long", "reverse_to_short", "hold"]
    )
    reasons = serializers.ListField(child=serializers.CharField())


class SignalsResponse(serializers.Serializer):
    symbol = serializers.CharField()
    timeframe = serializers.CharField()
    strategy = serializers.CharField()
    params = serializers.DictField()
    bars = serializers.IntegerField()
    latest = LatestSignal()
    history = SignalPoint(many=True)


class BacktestRequest(serializers.Serializer):
    strategy = serializers.CharField(
        help_text="Signal strategy (vectorised engine) or trading strategy kind (event-driven: the live classes)."
    )
    symbol = SymbolField(default="BTCUSDT")
    timeframe = serializers.ChoiceField(choices=TIMEFRAMES, default="1h")
    engine = serializers.ChoiceField(
        choices=BacktestEngine.choices, required=False, help_text="Default: by strategy."
    )
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)
    params = serializers.DictField(required=False, default=dict, help_text="Strategy parameters.")
    settings = BacktestSettingsSerializer(
        required=False, help_text="Fees, slippage, sizing, capital."
    )
    synthetic = serializers.BooleanField(
        default=False,
        help_text="Run on the synthetic (paper/dry-run) candles instead of real ones; "
        "the two are never mixed.",
    )


class BacktestRunSerializer(serializers.ModelSerializer):
    settings = serializers.JSONField(source="config", help_text="Backtest settings used.")

    class Meta:
        model = BacktestRun
        fields = [
            "id",
            "engine",
            "strategy",
            "symbol",
            "timeframe",
            "start",
            "end",
            "params",
            "settings",
            "status",
            "progress",
            "bar_count",
            "data",
            "metrics",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class BacktestRunDetailSerializer(BacktestRunSerializer):
    class Meta(BacktestRunSerializer.Meta):
        fields = [*BacktestRunSerializer.Meta.fields, "equity_curve", "trades"]
        read_only_fields = fields


class PredictQuery(PredictParams):
    symbol = SymbolField()
    timeframe = serializers.ChoiceField(choices=TIMEFRAMES, default="15m")


class BaselineResult(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    accuracy = serializers.FloatField()
    difference = serializers.FloatField(help_text="Model accuracy minus this baseline's.")
    paired_stderr = serializers.FloatField()


class PredictEvaluation(serializers.Serializer):
    method = serializers.CharField()
    folds = serializers.IntegerField()
    train_samples = serializers.IntegerField()
    oos_samples = serializers.IntegerField(
        help_text="Bars predicted by models that never saw them."
    )
    oos_accuracy = serializers.FloatField()
    baseline = serializers.CharField(help_text="The most accurate naive baseline.")
    baseline_accuracy = serializers.FloatField()
    edge = serializers.FloatField(help_text="oos_accuracy - baseline_accuracy")
    edge_stderr = serializers.FloatField(help_text="Paired standard error of edge.")
    has_edge = serializers.BooleanField(
        help_text="edge > 0 and at least 2 paired standard errors over the best baseline."
    )
    baselines = BaselineResult(many=True)


class PredictResponse(serializers.Serializer):
    symbol = serializers.CharField()
    timeframe = serializers.CharField()
    model = serializers.CharField()
    as_of = serializers.DateTimeField()
    horizon = serializers.CharField()
    direction = serializers.ChoiceField(choices=["up", "down"])
    probability_up = serializers.FloatField()
    probability = serializers.FloatField(help_text="Probability of the predicted direction.")
    features = serializers.ListField(child=serializers.CharField())
    evaluation = PredictEvaluation()
    verdict = serializers.CharField()


class ParamSpec(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField()
    default = serializers.JSONField(allow_null=True)
    required = serializers.BooleanField()
    min = serializers.JSONField(allow_null=True)
    max = serializers.JSONField(allow_null=True)
    choices = serializers.ListField(child=serializers.CharField(), allow_null=True)
    help = serializers.CharField(allow_blank=True)


class StrategySpec(serializers.Serializer):
    name = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    engine = serializers.ChoiceField(choices=BacktestEngine.choices)
    params = ParamSpec(many=True)


class ResearchHealth(serializers.Serializer):
    status = serializers.CharField()
    symbols = serializers.ListField(child=serializers.CharField())
    candles = serializers.IntegerField()
    backtests = serializers.IntegerField()


class LiveMarketQuery(serializers.Serializer):
    symbol = SymbolField()
    depth = serializers.IntegerField(
        min_value=1, max_value=1_000, default=20, help_text="Order book levels per side."
    )


class LiveMarketResponse(serializers.Serializer):
    symbol = serializers.CharField()
    exchange = serializers.CharField()
    snapshot = serializers.DictField(help_text="bid, ask, mid (Decimal strings), timestamp.")
    ticker = serializers.DictField(
        allow_null=True, help_text="24-hour statistics; null if the exchange has none."
    )
    order_book = serializers.DictField(
        allow_null=True, help_text="bids/asks as [price, quantity], best first."
    )
    funding = serializers.DictField(
        allow_null=True, help_text="Mark price and funding rate (futures)."
    )
