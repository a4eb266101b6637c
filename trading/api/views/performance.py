"""How the desk is doing: realised PnL per period, symbol and strategy, the cumulative
curve, and closed round-trip trades (trading.performance)."""

from __future__ import annotations

from dataclasses import asdict

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from trading import performance
from trading.api.serializers import MoneyField
from xquant.errors import ValidationError

TAG = ["performance"]
RANGE = OpenApiParameter(
    "range",
    str,
    enum=list(performance.RANGES),
    description="How far back from now: 1d, 7d, 30d or all (default 7d).",
)


def _since(request: Request):
    name = request.query_params.get("range", "7d")
    try:
        return name, performance.range_start(name, timezone.now())
    except ValueError as exc:
        raise ValidationError(str(exc), extra={"fields": {"range": [str(exc)]}}) from exc


class PeriodSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    realized = MoneyField(help_text="Net of fees.")
    fees = MoneyField()
    fills = serializers.IntegerField()


class SymbolPnlSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    realized = MoneyField(help_text="Net of fees.")
    fees = MoneyField()
    fills = serializers.IntegerField()


class StrategyPeriodPnlSerializer(serializers.Serializer):
    strategy_id = serializers.IntegerField(allow_null=True, help_text="null: manual orders.")
    strategy_name = serializers.CharField()
    realized = MoneyField(help_text="On the strategy's own book, net of fees.")
    fees = MoneyField()
    fills = serializers.IntegerField()
    trades = serializers.IntegerField(help_text="Round trips closed in the range.")
    wins = serializers.IntegerField()


class PointSerializer(serializers.Serializer):
    time = serializers.DateTimeField()
    value = MoneyField()


class TotalsSerializer(serializers.Serializer):
    realized = MoneyField(help_text="Net of fees.")
    fees = MoneyField()


class PerformanceSerializer(serializers.Serializer):
    range = serializers.CharField()
    since = serializers.DateTimeField(allow_null=True)
    totals = TotalsSerializer()
    by_day = PeriodSerializer(many=True)
    by_week = PeriodSerializer(many=True)
    by_month = PeriodSerializer(many=True)
    by_symbol = SymbolPnlSerializer(many=True)
    by_strategy = StrategyPeriodPnlSerializer(many=True)
    cumulative = PointSerializer(many=True)


def performance_body(*, exchange_name: str, range_name: str, since) -> dict:
    """What the API and the page show for a range."""
    return {
        "range": range_name,
        "since": since,
        "totals": performance.pnl_total(exchange_name=exchange_name, since=since),
        "by_day": performance.pnl_by_period(exchange_name=exchange_name, period="day", since=since),
        "by_week": performance.pnl_by_period(
            exchange_name=exchange_name, period="week", since=since
        ),
        "by_month": performance.pnl_by_period(
            exchange_name=exchange_name, period="month", since=since
        ),
        "by_symbol": performance.pnl_by_symbol(exchange_name=exchange_name, since=since),
        "by_strategy": performance.pnl_by_strategy(exchange_name=exchange_name, since=since),
        "cumulative": performance.cumulative_pnl(exchange_name=exchange_name, since=since),
    }


class PerformanceView(APIView):
    @extend_schema(
        tags=TAG,
        summary="Realised PnL per day, week, month, symbol and strategy, and its curve",
        parameters=[RANGE],
        responses=PerformanceSerializer,
        description="From the fills in the range, net of fees. Days, weeks (Monday "
        "first) and months are UTC. Per strategy: each strategy's own book (strategy_id "
        "null: manual orders); the rest: the account's.",
    )
    def get(self, request: Request) -> Response:
        name, since = _since(request)
        body = performance_body(exchange_name=settings.EXCHANGE, range_name=name, since=since)
        return Response(PerformanceSerializer(body).data)


class ClosedTradeSerializer(serializers.Serializer):
    strategy_id = serializers.IntegerField(allow_null=True)
    strategy_name = serializers.CharField()
    symbol = serializers.CharField()
    position_side = serializers.CharField()
    direction = serializers.ChoiceField(choices=["long", "short"])
    entry_at = serializers.DateTimeField()
    exit_at = serializers.DateTimeField()
    duration_seconds = serializers.IntegerField()
    quantity = MoneyField(help_text="Largest size the position reached.")
    entry_price = MoneyField(help_text="Average of the opening fills.")
    exit_price = MoneyField(help_text="Average of the closing fills.")
    fees = MoneyField()
    pnl = MoneyField(help_text="Realised, net of every fee of the trade.")


class ClosedTradesView(APIView):
    @extend_schema(
        tags=TAG,
        summary="Closed round-trip trades, newest first",
        parameters=[
            RANGE,
            OpenApiParameter("symbol", str, description="Only this symbol."),
            OpenApiParameter("strategy", int, description="Only this strategy's book."),
        ],
        responses=ClosedTradeSerializer(many=True),
        description="A trade runs from flat to flat on one book (a strategy's, or the "
        "manual one); a flip closes one and opens the next. In the range by exit time.",
    )
    def get(self, request: Request) -> Response:
        _, since = _since(request)
        strategy = request.query_params.get("strategy")
        if strategy is not None and not strategy.isdigit():
            raise ValidationError(
                "strategy must be a strategy id", extra={"fields": {"strategy": ["Not an id."]}}
            )
        trades = performance.closed_trades(
            exchange_name=settings.EXCHANGE,
            since=since,
            symbol=request.query_params.get("symbol") or None,
            strategy_id=int(strategy) if strategy else None,
        )
        return Response(
            ClosedTradeSerializer(
                [
                    {**asdict(t), "duration_seconds": int(t.duration.total_seconds())}
                    for t in trades
                ],
                many=True,
            ).data
        )
