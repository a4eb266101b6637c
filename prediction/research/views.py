"""/api/research/: thin views over the research services and selectors."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from prediction.indicators import OHLCV
from prediction.research import selectors
from prediction.research.lookahead import strategy_check
from prediction.research.serializers import (
    CheckQuery,
    StrategyFromStudyRequest,
    StudyDetailSerializer,
    StudyRequest,
    StudySerializer,
    TrialSerializer,
    WalkForwardDetailSerializer,
    WalkForwardRequest,
    WalkForwardSerializer,
)
from prediction.research.services.strategy import study_strategy_create
from prediction.research.services.studies import study_launch, study_resume
from prediction.research.services.walkforward import walkforward_launch
from prediction.selectors import candle_frame
from prediction.signals import SIGNAL_STRATEGIES
from trading.api.serializers import StrategySerializer as StrategyConfigSerializer
from trading.services.audit import actor_from_request
from xquant import roles
from xquant.api.schema import ErrorSerializer
from xquant.errors import ValidationError

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input: the message says why."),
    401: OpenApiResponse(ErrorSerializer, description="Not authenticated."),
}
NOT_FOUND = {404: OpenApiResponse(ErrorSerializer, description="No such record.")}


class StudyListView(generics.ListCreateAPIView):
    write_permissions = {"POST": roles.RUN_BACKTEST}
    serializer_class = StudySerializer

    def get_queryset(self):
        return selectors.study_list()

    @extend_schema(summary="Parameter studies, newest first")
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Start a parameter study",
        description="Validates the study (the parameter space against the strategy's own "
        "parameter rules), stores it and starts its trials: as Celery tasks on the workers, "
        "or in-process in embedded mode. Progress reaches the dashboard as study.progress "
        "and study.finished events; poll /api/research/studies/{id}.",
        request=StudyRequest,
        responses={202: StudySerializer, **ERRORS},
    )
    def post(self, request: Request, *args, **kwargs) -> Response:
        serializer = StudyRequest(data=request.data)
        serializer.is_valid(raise_exception=True)
        study = study_launch(user=request.user, **serializer.validated_data)
        return Response(StudySerializer(study).data, status=status.HTTP_202_ACCEPTED)


class StudyDetailView(APIView):
    @extend_schema(
        summary="One study: status, best trials, importance, heatmap, overfitting statistics",
        responses={200: StudyDetailSerializer, **NOT_FOUND, 401: ERRORS[401]},
    )
    def get(self, request: Request, study_id: int) -> Response:
        return Response(StudyDetailSerializer(selectors.study_get(study_id=study_id)).data)


class StudyTrialsView(APIView):
    @extend_schema(
        summary="Every trial of a study",
        responses={200: TrialSerializer(many=True), **NOT_FOUND, 401: ERRORS[401]},
    )
    def get(self, request: Request, study_id: int) -> Response:
        study = selectors.study_get(study_id=study_id)
        return Response(selectors.study_trials(study=study))


class StudyResumeView(APIView):
    write_permissions = {"POST": roles.RUN_BACKTEST}

    @extend_schema(
        summary="Resume a study that is not finished (new trial chains)",
        request=None,
        responses={202: StudySerializer, **NOT_FOUND, **ERRORS},
    )
    def post(self, request: Request, study_id: int) -> Response:
        selectors.study_get(study_id=study_id)
        study = study_resume(study_id=study_id)
        return Response(StudySerializer(study).data, status=status.HTTP_202_ACCEPTED)


class StudyStrategyView(APIView):
    write_permissions = {"POST": roles.ADD_STRATEGY}
    # A strategy change, on the money rate like the other strategy writes.
    money_endpoint = True

    @extend_schema(
        summary="Create an inactive strategy config from a study's parameters",
        description="The best feasible trial's parameters (or a given trial's) become a "
        "strategy config that is off: a person reviews it and switches it on.",
        request=StrategyFromStudyRequest,
        responses={201: StrategyConfigSerializer, **NOT_FOUND, **ERRORS},
    )
    def post(self, request: Request, study_id: int) -> Response:
        study = selectors.study_get(study_id=study_id)
        serializer = StrategyFromStudyRequest(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        strategy = study_strategy_create(
            study=study,
            trial_number=data["trial"],
            name=data["name"],
            quantity=str(data["quantity"]) if data["quantity"] is not None else None,
            actor=actor_from_request(request),
        )
        return Response(StrategyConfigSerializer(strategy).data, status=status.HTTP_201_CREATED)


class WalkForwardListView(generics.ListCreateAPIView):
    write_permissions = {"POST": roles.RUN_BACKTEST}
    serializer_class = WalkForwardSerializer

    def get_queryset(self):
        return selectors.walkforward_list()

    @extend_schema(summary="Walk-forward analyses, newest first")
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Start a walk-forward analysis",
        description="`study` (optional) links it to the study whose search it repeats "
        "window by window; 404 when that study does not exist.",
        request=WalkForwardRequest,
        responses={202: WalkForwardSerializer, **NOT_FOUND, **ERRORS},
    )
    def post(self, request: Request, *args, **kwargs) -> Response:
        serializer = WalkForwardRequest(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.pop("parallelism", None)
        data.pop("pruning", None)
        data.pop("name", None)
        study_id = data.pop("study", None)
        if study_id is not None:
            data["study"] = selectors.study_get(study_id=study_id)
        wf = walkforward_launch(user=request.user, **data)
        return Response(WalkForwardSerializer(wf).data, status=status.HTTP_202_ACCEPTED)


class WalkForwardDetailView(APIView):
    @extend_schema(
        summary="One walk-forward analysis: windows, stitched out-of-sample curve, degradation",
        responses={200: WalkForwardDetailSerializer, **NOT_FOUND, 401: ERRORS[401]},
    )
    def get(self, request: Request, walkforward_id: int) -> Response:
        wf = selectors.walkforward_get(walkforward_id=walkforward_id)
        return Response(WalkForwardDetailSerializer(wf).data)


class LookaheadCheckView(APIView):
    @extend_schema(
        summary="Look-ahead and warm-up checks of a signal strategy on stored candles",
        parameters=[CheckQuery],
        responses={200: OpenApiResponse(description="The check's report."), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = CheckQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        if q["strategy"] not in SIGNAL_STRATEGIES:
            raise ValidationError(
                f"Checks run on signal strategies: {', '.join(SIGNAL_STRATEGIES)}.",
                extra={"fields": {"strategy": ["Not a signal strategy."]}},
            )
        frame = candle_frame(symbol=q["symbol"], timeframe=q["timeframe"], min_bars=100)
        report = strategy_check(q["strategy"], OHLCV.from_frame(frame), params=q["params"])
        return Response(report.as_dict())
