"""Strategies: list, create, read, change, switch on/off, delete, PnL; and the seeds'
POST /api/strategies/ta for Technical strategies."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from trading.api.filters import StrategyFilter
from trading.api.serializers import (
    StrategyCreateSerializer,
    StrategyDetailSerializer,
    StrategyPnlSerializer,
    StrategySerializer,
    StrategyToggleSerializer,
    StrategyUpdateSerializer,
    TechnicalStrategyCreateSerializer,
)
from trading.api.views.common import ID_PARAMETER, JsonBodies, errors
from trading.models import StrategyConfig
from trading.selectors import strategy_get, strategy_list, strategy_pnl
from trading.services.audit import actor_from_request
from trading.services.strategies import (
    strategy_config_create,
    strategy_config_create_technical,
    strategy_config_delete,
    strategy_config_set_active,
    strategy_config_update,
)
from xquant import roles

TAG = ["strategies"]


@extend_schema_view(
    list=extend_schema(
        tags=TAG,
        summary="List strategies",
        description="Every strategy config with its active flag, status and a summary of its "
        "state (e.g. TWAP progress).",
    ),
)
class StrategyViewSet(JsonBodies, viewsets.GenericViewSet):
    serializer_class = StrategySerializer
    filterset_class = StrategyFilter
    queryset = StrategyConfig.objects.none()  # for the schema; requests use selectors
    lookup_value_regex = "[0-9]+"
    money_endpoint = True
    write_permissions = {
        "create": roles.ADD_STRATEGY,
        "technical": roles.ADD_STRATEGY,
        "partial_update": roles.CHANGE_STRATEGY,
        "toggle": roles.CHANGE_STRATEGY,
        "destroy": roles.DELETE_STRATEGY,
    }

    def get_queryset(self):
        return strategy_list()

    def get_object(self) -> StrategyConfig:
        return strategy_get(strategy_id=int(self.kwargs["pk"]))

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(StrategySerializer(page, many=True).data)

    @extend_schema(
        tags=TAG,
        summary="Create a strategy",
        request=StrategyCreateSerializer,
        responses={201: StrategyDetailSerializer, **errors(409)},
        description="Params are validated for the kind (see StrategyParams). 409 when the "
        "name is taken. Inactive unless is_active is true.",
    )
    def create(self, request: Request) -> Response:
        serializer = StrategyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        strategy = strategy_config_create(
            **serializer.validated_data, actor=actor_from_request(request)
        )
        return Response(StrategyDetailSerializer(strategy).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        tags=TAG,
        summary="Read a strategy",
        parameters=[ID_PARAMETER],
        responses=StrategyDetailSerializer,
    )
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(StrategyDetailSerializer(self.get_object()).data)

    @extend_schema(
        tags=TAG,
        summary="Change name, symbol or params",
        parameters=[ID_PARAMETER],
        request=StrategyUpdateSerializer,
        responses={200: StrategyDetailSerializer, **errors(409)},
        description="The kind cannot change. The symbol only while the strategy has no "
        "state (409 otherwise). params replaces the whole parameter object.",
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        strategy = self.get_object()
        serializer = StrategyUpdateSerializer(data=request.data, context={"strategy": strategy})
        serializer.is_valid(raise_exception=True)
        strategy = strategy_config_update(
            strategy=strategy, **serializer.validated_data, actor=actor_from_request(request)
        )
        return Response(StrategyDetailSerializer(strategy).data)

    @extend_schema(
        tags=TAG,
        summary="Delete a strategy that never traded",
        parameters=[ID_PARAMETER],
        responses={204: OpenApiResponse(description="Deleted."), **errors(409)},
        description="A strategy with orders cannot be deleted (409): deactivate it instead, "
        "so its orders, fills and PnL stay attributed to it.",
    )
    def destroy(self, request: Request, pk: str) -> Response:
        strategy_config_delete(strategy=self.get_object(), actor=actor_from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        tags=TAG,
        summary="Switch a strategy on or off",
        parameters=[ID_PARAMETER],
        request=StrategyToggleSerializer,
        responses=StrategySerializer,
        description='{"active": true|false} sets it; an empty body flips it. Switching on '
        "also clears an errored status.",
    )
    @action(detail=True, methods=["post"])
    def toggle(self, request: Request, pk: str) -> Response:
        strategy = self.get_object()
        serializer = StrategyToggleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        active = serializer.validated_data.get("active", not strategy.is_active)
        strategy = strategy_config_set_active(
            strategy=strategy, active=active, actor=actor_from_request(request)
        )
        return Response(StrategySerializer(strategy).data)

    @extend_schema(
        tags=TAG,
        summary="A strategy's PnL",
        parameters=[ID_PARAMETER],
        responses=StrategyPnlSerializer,
        description="From the strategy's own fills: realised net of fees, unrealised at the "
        "latest mid, and its positions.",
    )
    @action(detail=True, methods=["get"])
    def pnl(self, request: Request, pk: str) -> Response:
        return Response(StrategyPnlSerializer(strategy_pnl(strategy=self.get_object())).data)

    @extend_schema(
        tags=TAG,
        summary="Create a Technical strategy (MA crossover or RSI)",
        request=TechnicalStrategyCreateSerializer,
        responses={201: StrategyDetailSerializer, **errors(409)},
        description="The dashboard's form: {symbol, strategy_type, params}. strategy_type "
        "ma_cross or rsi becomes a Technical strategy with that signal; params are the "
        "Technical parameters without signal (quantity required). Active by default: it "
        "trades from the next tick. Named '<strategy_type> <symbol>' unless name is given.",
    )
    @action(detail=False, methods=["post"], url_path="ta")
    def technical(self, request: Request) -> Response:
        serializer = TechnicalStrategyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        strategy = strategy_config_create_technical(
            **serializer.validated_data, actor=actor_from_request(request)
        )
        return Response(StrategyDetailSerializer(strategy).data, status=status.HTTP_201_CREATED)
