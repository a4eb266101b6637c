"""Research API under /api/: thin views over prediction.reports, services and selectors."""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from prediction import reports
from prediction.indicators import IndicatorParams
from prediction.models import BacktestRun
from prediction.predict import prediction_make
from prediction.selectors import backtest_run_get, backtest_run_list, known_symbols
from prediction.serializers import (
    RESERVED_QUERY,
    BacktestRequest,
    BacktestRunDetailSerializer,
    BacktestRunSerializer,
    IndicatorsResponse,
    LiveMarketQuery,
    LiveMarketResponse,
    MarketDataResponse,
    PredictQuery,
    PredictResponse,
    RangeQuery,
    ResearchHealth,
    SignalsQuery,
    SignalsResponse,
    StrategySpec,
)
from prediction.tasks import backtest_run_launch
from xquant import roles
from xquant.api.schema import ErrorSerializer

ERRORS = {
    400: OpenApiResponse(
        ErrorSerializer, description="Invalid input: the message says what is allowed."
    ),
    401: OpenApiResponse(ErrorSerializer, description="Not authenticated."),
}


def _query(serializer_class, request: Request) -> tuple[dict[str, Any], dict[str, str]]:
    """(validated known parameters, the remaining ones) of a GET query string."""
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    known = set(serializer.fields) | RESERVED_QUERY
    extra = {k: v for k, v in request.query_params.items() if k not in known}
    return dict(serializer.validated_data), extra


class MarketDataView(APIView):
    @extend_schema(
        summary="Stored OHLCV candles",
        description="Candles of one symbol and timeframe (Decimal strings), oldest first. "
        "The bundled BTCUSDT sample (15m, 1h, 4h, 1d) is loaded on first use.",
        parameters=[RangeQuery],
        responses={200: MarketDataResponse, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        q, extra = _query(RangeQuery, request)
        _refuse_unknown(extra)
        return Response(MarketDataResponse(reports.market_data(**q)).data)


class LiveMarketDataView(APIView):
    @extend_schema(
        summary="Live market data from the configured exchange",
        description="Top of book for every exchange; 24-hour ticker, order book and funding "
        "rate where the exchange publishes them (Binance USDT-M).",
        parameters=[LiveMarketQuery],
        responses={
            200: LiveMarketResponse,
            **ERRORS,
            503: OpenApiResponse(ErrorSerializer, description="The exchange could not be reached."),
        },
    )
    def get(self, request: Request) -> Response:
        q, extra = _query(LiveMarketQuery, request)
        _refuse_unknown(extra)
        data = reports.live_market_data(**q)
        return Response(json.loads(json.dumps(data, cls=DjangoJSONEncoder)))


class IndicatorsView(APIView):
    @extend_schema(
        summary="Technical indicators",
        description="RSI, MACD, Bollinger bands, Stochastic RSI, ATR, EMA/SMA, VWAP, OBV, ROC "
        "and Williams %R over stored candles (values equal the `ta` library's). Indicator "
        "windows are query parameters; values are null during warm-up.",
        parameters=[RangeQuery, IndicatorParams],
        responses={200: IndicatorsResponse, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        q, extra = _query(RangeQuery, request)
        return Response(reports.indicators_report(params=extra, **q))


class SignalsView(APIView):
    @extend_schema(
        summary="Signal of a research strategy",
        description="The latest target position (decided at the last bar's close) with its "
        "reasons, and the recent position changes. Any other query parameter is a strategy "
        "parameter; /api/research/strategies lists them with their ranges.",
        parameters=[
            SignalsQuery,
            OpenApiParameter(
                "params",
                OpenApiTypes.OBJECT,
                OpenApiParameter.QUERY,
                style="form",
                explode=True,
                required=False,
                description="Strategy parameters, e.g. fast=10&slow=30.",
            ),
        ],
        responses={200: SignalsResponse, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        q, extra = _query(SignalsQuery, request)
        return Response(reports.signals_report(params=extra, **q))


class StrategyListView(APIView):
    pagination_class = None

    @extend_schema(
        summary="Research and trading strategies with their parameters",
        responses={200: StrategySpec(many=True), 401: ERRORS[401]},
    )
    def get(self, request: Request) -> Response:
        return Response(reports.strategy_catalogue())


class BacktestLaunchView(APIView):
    write_permissions = {"POST": roles.RUN_BACKTEST}

    @extend_schema(
        summary="Run a backtest",
        description="Validates the request (400 on any bad input), stores a backtest run and "
        "executes it: on a Celery worker, or inline when Celery is eager. Progress goes to the "
        "dashboard as backtest.progress / backtest.finished events; poll /api/backtests/{id}.",
        request=BacktestRequest,
        responses={202: BacktestRunSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        serializer = BacktestRequest(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        # The service validates settings itself (refusing unknown names), from the raw input.
        data["settings"] = request.data.get("settings") or {}
        run = backtest_run_launch(user=request.user, **data)
        run.refresh_from_db()
        return Response(BacktestRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class BacktestListView(generics.ListAPIView):
    serializer_class = BacktestRunSerializer

    @extend_schema(
        summary="Past backtest runs, newest first",
        responses={200: BacktestRunSerializer(many=True), 401: ERRORS[401]},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return backtest_run_list()


class BacktestDetailView(APIView):
    @extend_schema(
        summary="One backtest run with its equity curve and trades",
        responses={
            200: BacktestRunDetailSerializer,
            404: OpenApiResponse(ErrorSerializer),
            401: ERRORS[401],
        },
    )
    def get(self, request: Request, run_id: int) -> Response:
        return Response(BacktestRunDetailSerializer(backtest_run_get(run_id=run_id)).data)


class PredictView(APIView):
    @extend_schema(
        summary="Direction of the next bar, with out-of-sample evidence",
        description="A small model (logistic regression or gradient boosting over indicator "
        "features) trained walk-forward. The response carries the out-of-sample accuracy next "
        "to every naive baseline (majority class, persistence, anti-persistence) with the "
        "paired standard error of each difference, and a verdict: an edge only over the best "
        "baseline at two paired standard errors or more, otherwise no edge.",
        parameters=[PredictQuery],
        responses={200: PredictResponse, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        q, extra = _query(PredictQuery, request)
        _refuse_unknown(extra)
        symbol, timeframe = q.pop("symbol"), q.pop("timeframe")
        return Response(prediction_make(symbol=symbol, timeframe=timeframe, params=q))


class ResearchHealthView(APIView):
    @extend_schema(
        summary="Research service health", responses={200: ResearchHealth, 401: ERRORS[401]}
    )
    def get(self, request: Request) -> Response:
        from prediction.models import Candle

        return Response(
            {
                "status": "ok",
                "symbols": known_symbols(),
                "candles": Candle.objects.count(),
                "backtests": BacktestRun.objects.count(),
            }
        )


def _refuse_unknown(extra: dict[str, str]) -> None:
    if extra:
        from xquant.errors import ValidationError

        raise ValidationError(
            f"Unknown query parameters: {', '.join(sorted(extra))}.",
            extra={"fields": {k: ["Unknown parameter."] for k in extra}},
        )
