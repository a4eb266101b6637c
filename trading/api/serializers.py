"""Request and response shapes of the trading API.

Money and quantities travel as decimal strings ("0.01", never floats) and are read
from strings or JSON numbers. Request bodies refuse unknown fields
(StrictInputSerializer), so a typo is an error rather than a silently ignored value.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from trading.models import (
    Fill,
    FuturesSettings,
    MarginMode,
    Order,
    OrderAttempt,
    OrderSide,
    OrderType,
    Position,
    PositionSide,
    RiskLimits,
    StrategyConfig,
    StrategyKind,
    StrategyPosition,
    TimeInForce,
)
from trading.strategies.params import (
    PARAMS_BY_KIND,
    TechnicalSignalParams,
    plain_decimal,
    validate_params,
)
from trading.strategies.summary import state_summary
from xquant.api.serializers import StrictInputSerializer, json_type_errors
from xquant.errors import ValidationError

MONEY = {"max_digits": 30, "decimal_places": 12}
POSITION_MODES = [("one_way", "One-way"), ("hedge", "Hedge")]
SMALLEST = Decimal("0.000000000001")


class MoneyField(serializers.DecimalField):
    """A decimal as written: "0.01", not DRF's padded "0.010000000000"."""

    def __init__(self, **kwargs: Any) -> None:
        for key, value in MONEY.items():
            kwargs.setdefault(key, value)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Decimal:
        return plain_decimal(super().to_internal_value(data))

    def to_representation(self, value: Any) -> str | None:
        if value is None:
            return None
        return f"{plain_decimal(Decimal(value)):f}"


def positive_money(**kwargs: Any) -> MoneyField:
    return MoneyField(
        min_value=SMALLEST, error_messages={"min_value": "Must be greater than zero."}, **kwargs
    )


class SymbolField(serializers.RegexField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "Exchange symbol in capitals, e.g. BTCUSDT.")
        super().__init__(
            settings.SYMBOL_PATTERN.pattern,
            max_length=20,
            error_messages={"invalid": "Use the exchange symbol in capitals, e.g. BTCUSDT."},
            **kwargs,
        )


class ModelOutputSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DecimalField: MoneyField,
    }


# --- strategies -----------------------------------------------------------------------

STRATEGY_PARAMS_DESCRIPTION = (
    "Parameters of the strategy's kind; each kind's object is listed in the schema "
    "(twap: TWAPParams, vwap: VWAPParams, iceberg: IcebergParams, trailing_stop: "
    "TrailingStopParams, technical: TechnicalParams, combined: CombinedParams). Unknown "
    "keys are refused; omitted keys take their defaults."
)


@extend_schema_field(
    PolymorphicProxySerializer(
        component_name="StrategyParams",
        serializers=list(PARAMS_BY_KIND.values()),
        resource_type_field_name=None,
    )
)
class StrategyParamsField(serializers.JSONField):
    """Validated per kind by the strategy service (trading.strategies.params)."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise serializers.ValidationError("Parameters must be a JSON object.")
        return super().to_internal_value(data)


def check_params(kind: str, params: dict[str, Any], field: str = "params") -> None:
    """Validate params for a kind here, so that each bad parameter is reported as
    `params.<name>` next to the other fields (the service validates again on save)."""
    serializer = PARAMS_BY_KIND.get(kind)
    if serializer is not None:
        errors = json_type_errors(serializer().fields, params)
        if errors:
            raise serializers.ValidationError({field: errors})
    try:
        validate_params(kind, params)
    except ValidationError as exc:
        fields = exc.extra.get("fields") or {"non_field_errors": [exc.message]}
        raise serializers.ValidationError({field: fields}) from None


class StrategyStateSummarySerializer(serializers.Serializer):
    """A short view of the persisted state; which fields appear depends on the kind."""

    phase = serializers.CharField(
        required=False,
        help_text="not_started, working, finished, halted (execution algorithms); "
        "waiting or trailing (trailing stop); watching (signal strategies).",
    )
    total_quantity = MoneyField(required=False, allow_null=True)
    executed_quantity = MoneyField(required=False)
    working_quantity = MoneyField(required=False, help_text="Still working on the book.")
    working_orders = serializers.IntegerField(required=False)
    progress_percent = MoneyField(required=False, help_text="Executed share of the total.")
    slices = serializers.IntegerField(required=False, help_text="TWAP/VWAP slices in all.")
    slices_due = serializers.IntegerField(required=False, help_text="Slices sent or due.")
    halted_reason = serializers.CharField(required=False)
    triggered = serializers.BooleanField(required=False)
    best_price = MoneyField(required=False, allow_null=True)
    signal = serializers.CharField(required=False, allow_null=True)
    position = MoneyField(required=False, help_text="Signed position from its own fills.")
    target_position = MoneyField(required=False)
    entries = serializers.IntegerField(required=False)
    last_close = MoneyField(required=False, allow_null=True)
    execution = serializers.DictField(
        required=False, help_text="Combined: the summary of the running execution."
    )


class StrategySerializer(ModelOutputSerializer):
    params = StrategyParamsField(help_text=STRATEGY_PARAMS_DESCRIPTION)
    state_summary = serializers.SerializerMethodField()

    class Meta:
        model = StrategyConfig
        fields = [
            "id",
            "name",
            "kind",
            "symbol",
            "params",
            "is_active",
            "status",
            "last_error",
            "state_summary",
            "created_at",
            "updated_at",
            "state_updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(StrategyStateSummarySerializer)
    def get_state_summary(self, strategy: StrategyConfig) -> dict[str, Any]:
        return state_summary(strategy.kind, strategy.params, strategy.state)


class StrategyDetailSerializer(StrategySerializer):
    state = serializers.DictField(
        read_only=True, help_text="The strategy's full persisted state (kind-specific)."
    )

    class Meta(StrategySerializer.Meta):
        fields = [*StrategySerializer.Meta.fields, "state", "state_version"]
        read_only_fields = fields


class StrategyCreateSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=StrategyKind.choices)
    symbol = SymbolField()
    params = StrategyParamsField(help_text=STRATEGY_PARAMS_DESCRIPTION)
    is_active = serializers.BooleanField(
        default=False, help_text="Start trading from the next tick (default: off)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        check_params(attrs["kind"], attrs["params"])
        return attrs


class StrategyUpdateSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=100, required=False)
    symbol = SymbolField(
        required=False, help_text="Only while the strategy has no state (it never ran)."
    )
    params = StrategyParamsField(
        required=False, help_text="Replaces all parameters; validated for the strategy's kind."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError(
                "Nothing to change: send name, symbol or params. The kind cannot change "
                "(create a new strategy); switch on/off with POST /api/strategies/{id}/toggle."
            )
        if "params" in attrs:
            check_params(self.context["strategy"].kind, attrs["params"])
        return attrs


class StrategyToggleSerializer(StrictInputSerializer):
    active = serializers.BooleanField(
        required=False, help_text="On (true) or off (false); omitted: flip the current state."
    )


class TechnicalStrategyParamsSerializer(TechnicalSignalParams):
    """TechnicalParams without `signal`, which strategy_type gives."""

    signal = None


@extend_schema_field(TechnicalStrategyParamsSerializer)
class TechnicalParamsField(serializers.JSONField):
    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise serializers.ValidationError("Parameters must be a JSON object.")
        return super().to_internal_value(data)


class TechnicalStrategyCreateSerializer(StrictInputSerializer):
    symbol = SymbolField()
    strategy_type = serializers.ChoiceField(
        choices=[("ma_cross", "Moving-average crossover"), ("rsi", "RSI thresholds")],
        help_text="ma_cross (fast_period/slow_period) or rsi (rsi_period, rsi_oversold, "
        "rsi_overbought).",
    )
    params = TechnicalParamsField(
        help_text="Technical parameters: quantity is required, the rest have defaults."
    )
    name = serializers.CharField(
        max_length=100, required=False, help_text="Default: '<strategy_type> <symbol>'."
    )
    is_active = serializers.BooleanField(default=True, help_text="Trade from the next tick.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        params = attrs["params"]
        if "signal" in params and params["signal"] != attrs["strategy_type"]:
            raise serializers.ValidationError(
                {"params": {"signal": ["Leave out: strategy_type sets it."]}}
            )
        check_params(StrategyKind.TECHNICAL, {**params, "signal": attrs["strategy_type"]})
        return attrs


class StrategyPositionSerializer(ModelOutputSerializer):
    strategy_name = serializers.CharField(read_only=True)

    class Meta:
        model = StrategyPosition
        fields = [
            "id",
            "strategy",
            "strategy_name",
            "exchange",
            "symbol",
            "position_side",
            "quantity",
            "entry_price",
            "mark_price",
            "unrealized_pnl",
            "realized_pnl",
            "fees_paid",
            "marked_at",
            "opened_at",
            "updated_at",
        ]
        read_only_fields = fields


class StrategyPnlSerializer(serializers.Serializer):
    strategy_id = serializers.IntegerField()
    strategy_name = serializers.CharField()
    realized_pnl = MoneyField(help_text="From its own fills, net of fees (USDT).")
    unrealized_pnl = MoneyField(help_text="Its open positions at the latest mid (USDT).")
    fees_paid = MoneyField()
    total_pnl = MoneyField()
    positions = StrategyPositionSerializer(many=True)


# --- orders ---------------------------------------------------------------------------


class OrderAttemptSerializer(ModelOutputSerializer):
    class Meta:
        model = OrderAttempt
        fields = [
            "number",
            "action",
            "outcome",
            "error_code",
            "error_message",
            "retry_after",
            "started_at",
            "duration_ms",
        ]
        read_only_fields = fields


class OrderFillSerializer(ModelOutputSerializer):
    class Meta:
        model = Fill
        fields = [
            "id",
            "trade_id",
            "side",
            "price",
            "quantity",
            "fee",
            "fee_asset",
            "realized_pnl",
            "is_maker",
            "executed_at",
        ]
        read_only_fields = fields


ORDER_FIELDS = [
    "id",
    "client_order_id",
    "exchange",
    "exchange_order_id",
    "symbol",
    "side",
    "order_type",
    "position_side",
    "reduce_only",
    "time_in_force",
    "quantity",
    "price",
    "reference_price",
    "status",
    "filled_quantity",
    "average_price",
    "strategy",
    "strategy_name",
    "source",
    "placed_by_name",
    "reason",
    "error_code",
    "error_message",
    "attempt_count",
    "created_at",
    "updated_at",
    "submitted_at",
    "closed_at",
]


class OrderSerializer(ModelOutputSerializer):
    strategy_name = serializers.CharField(read_only=True, allow_null=True)
    placed_by_name = serializers.CharField(
        read_only=True,
        help_text='Who placed a manual order: a username, or "api-token" for the desk\'s '
        "API_TOKEN; empty for a strategy's order.",
    )
    time_in_force = serializers.CharField(
        read_only=True, help_text="GTC, IOC, FOK or GTX for LIMIT orders; empty for MARKET."
    )
    error_code = serializers.CharField(
        read_only=True,
        help_text="Why a rejected order was refused: risk.<guard> (risk guard), local.<filter> "
        "(exchange filter, checked before sending) or the exchange's own code.",
    )

    class Meta:
        model = Order
        fields = ORDER_FIELDS
        read_only_fields = fields


class OrderDetailSerializer(OrderSerializer):
    attempts = OrderAttemptSerializer(many=True, read_only=True)
    fills = OrderFillSerializer(many=True, read_only=True)

    class Meta(OrderSerializer.Meta):
        fields = [*ORDER_FIELDS, "attempts", "fills"]
        read_only_fields = fields


class OrderCreateSerializer(StrictInputSerializer):
    symbol = SymbolField()
    side = serializers.ChoiceField(choices=OrderSide.choices)
    order_type = serializers.ChoiceField(choices=OrderType.choices, default=OrderType.MARKET)
    quantity = positive_money(help_text="Base units; rounded down to the symbol's step size.")
    price = positive_money(
        required=False,
        allow_null=True,
        help_text="Required for LIMIT orders (rounded to the tick size); not allowed for MARKET.",
    )
    position_side = serializers.ChoiceField(choices=PositionSide.choices, default=PositionSide.BOTH)
    reduce_only = serializers.BooleanField(default=False)
    time_in_force = serializers.ChoiceField(
        choices=TimeInForce.choices, required=False, help_text="LIMIT orders only; default GTC."
    )
    reason = serializers.CharField(
        max_length=200, required=False, default="manual", help_text="Kept on the order."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        price = attrs.get("price")
        if attrs["order_type"] == OrderType.LIMIT and price is None:
            raise serializers.ValidationError({"price": ["Required for LIMIT orders."]})
        if attrs["order_type"] == OrderType.MARKET:
            if price is not None:
                raise serializers.ValidationError(
                    {"price": ["A MARKET order takes no price; use order_type LIMIT."]}
                )
            if "time_in_force" in attrs:
                raise serializers.ValidationError(
                    {"time_in_force": ["Applies to LIMIT orders only."]}
                )
        if attrs["reduce_only"] and attrs["position_side"] != PositionSide.BOTH:
            raise serializers.ValidationError(
                {"reduce_only": ["reduce_only applies to one-way mode (position_side BOTH) only."]}
            )
        return attrs


class OrderCancelSerializer(StrictInputSerializer):
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


# --- fills and positions --------------------------------------------------------------


class FillSerializer(ModelOutputSerializer):
    client_order_id = serializers.CharField(read_only=True)

    class Meta:
        model = Fill
        fields = [
            "id",
            "order",
            "client_order_id",
            "strategy",
            "exchange",
            "symbol",
            "trade_id",
            "side",
            "position_side",
            "price",
            "quantity",
            "fee",
            "fee_asset",
            "realized_pnl",
            "is_maker",
            "executed_at",
        ]
        read_only_fields = fields


class PositionSerializer(ModelOutputSerializer):
    quantity = MoneyField(read_only=True, help_text="Signed: positive long, negative short.")
    mark_price = MoneyField(
        read_only=True,
        allow_null=True,
        help_text="Latest mid, updated by every trading tick (marked_at says when).",
    )
    unrealized_pnl = MoneyField(
        read_only=True, help_text="PnL of the open quantity at mark_price, updated every tick."
    )
    realized_pnl = MoneyField(read_only=True, help_text="Cumulative, net of fees.")
    notional = MoneyField(read_only=True, help_text="|quantity| × mark price (or entry price).")

    class Meta:
        model = Position
        fields = [
            "id",
            "exchange",
            "symbol",
            "position_side",
            "quantity",
            "entry_price",
            "mark_price",
            "unrealized_pnl",
            "realized_pnl",
            "fees_paid",
            "notional",
            "marked_at",
            "opened_at",
            "updated_at",
        ]
        read_only_fields = fields


# --- futures settings -----------------------------------------------------------------


class FuturesSettingsSerializer(ModelOutputSerializer):
    position_mode = serializers.SerializerMethodField()
    detail = serializers.DictField(
        read_only=True,
        help_text="Per setting applied: {value, changed}; changed false means the exchange "
        "said it already was so.",
    )

    class Meta:
        model = FuturesSettings
        fields = [
            "exchange",
            "symbol",
            "leverage",
            "margin_mode",
            "position_mode",
            "hedge_mode",
            "applied_at",
            "detail",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=POSITION_MODES))
    def get_position_mode(self, row: FuturesSettings) -> str:
        return "hedge" if row.hedge_mode else "one_way"


class FuturesSettingsApplySerializer(StrictInputSerializer):
    symbol = SymbolField()
    leverage = serializers.IntegerField(min_value=1, max_value=125, required=False)
    margin_mode = serializers.ChoiceField(choices=MarginMode.choices, required=False)
    position_mode = serializers.ChoiceField(
        choices=POSITION_MODES,
        required=False,
        help_text="Account-wide on Binance: applies to every symbol.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not {"leverage", "margin_mode", "position_mode"} & set(attrs):
            raise serializers.ValidationError(
                "Nothing to apply: send leverage, margin_mode or position_mode."
            )
        return attrs


# --- risk -----------------------------------------------------------------------------


class RiskLimitsSerializer(ModelOutputSerializer):
    loss_today = MoneyField(
        read_only=True,
        help_text="Today's realised loss net of fees plus unrealised loss, as a positive "
        "number; new orders stop when it reaches daily_loss_limit.",
    )

    class Meta:
        model = RiskLimits
        fields = [
            "max_order_notional",
            "max_position_notional",
            "daily_loss_limit",
            "day_reset_hour_utc",
            "kill_switch_engaged",
            "kill_switch_reason",
            "kill_switch_changed_at",
            "loss_today",
            "updated_at",
        ]
        read_only_fields = fields


class RiskLimitsUpdateSerializer(StrictInputSerializer):
    max_order_notional = positive_money(required=False, help_text="USDT per order.")
    max_position_notional = positive_money(required=False, help_text="USDT per symbol.")
    daily_loss_limit = positive_money(required=False, help_text="USDT.")
    day_reset_hour_utc = serializers.IntegerField(min_value=0, max_value=23, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError(
                "Nothing to change: send max_order_notional, max_position_notional, "
                "daily_loss_limit or day_reset_hour_utc. The kill switch has its own "
                "endpoint, POST /api/risk/kill-switch."
            )
        return attrs


class KillSwitchSerializer(StrictInputSerializer):
    engage = serializers.BooleanField(
        help_text="true: refuse every new order and cancel open orders; false: release."
    )
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class CancelFailureSerializer(serializers.Serializer):
    client_order_id = serializers.CharField(required=False)
    symbol = serializers.CharField(required=False)
    error = serializers.CharField()


class KillSwitchResultSerializer(serializers.Serializer):
    engaged = serializers.BooleanField()
    reason = serializers.CharField(allow_blank=True)
    changed_at = serializers.DateTimeField(allow_null=True)
    canceled = serializers.IntegerField(help_text="Open orders cancelled by engaging.")
    failed = CancelFailureSerializer(many=True, help_text="Orders that could not be cancelled.")


# --- health ---------------------------------------------------------------------------


class HealthCheckSerializer(serializers.Serializer):
    # "degraded": working on a fallback (the streams check: ticks poll REST).
    status = serializers.ChoiceField(choices=["ok", "failing", "skipped", "degraded"])
    message = serializers.CharField(allow_blank=True)
    detail = serializers.DictField(required=False)


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["ok", "failing"], help_text="ok (HTTP 200) or failing (HTTP 503)."
    )
    failing = serializers.ListField(
        child=serializers.CharField(), help_text="Names of the failing checks."
    )
    checks = serializers.DictField(
        child=HealthCheckSerializer(),
        help_text="database, redis, exchange, trader, prediction (and any added checks).",
    )
