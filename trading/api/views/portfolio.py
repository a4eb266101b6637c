"""Fills, positions and per-strategy positions (read only)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets

from trading.api.filters import FillFilter, PositionFilter, StrategyPositionFilter
from trading.api.serializers import (
    FillSerializer,
    PositionSerializer,
    StrategyPositionSerializer,
)
from trading.models import Fill, Position, StrategyPosition
from trading.selectors import fill_list, position_list, strategy_position_list


@extend_schema_view(
    list=extend_schema(
        tags=["fills"], summary="List fills", description="Newest first; filters combine."
    )
)
class FillViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = FillSerializer
    filterset_class = FillFilter
    queryset = Fill.objects.none()

    def get_queryset(self):
        return fill_list()


@extend_schema_view(
    list=extend_schema(
        tags=["positions"],
        summary="List positions with unrealised PnL",
        description="The account's positions per symbol and position side, as the fills "
        "built them. mark_price and unrealized_pnl are updated at the latest mid by every "
        "trading tick (marked_at says when). open=true leaves out flat positions.",
    )
)
class PositionViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = PositionSerializer
    filterset_class = PositionFilter
    queryset = Position.objects.none()

    def get_queryset(self):
        return position_list()


@extend_schema_view(
    list=extend_schema(
        tags=["positions"],
        summary="List per-strategy positions and PnL",
        description="Each strategy's share of the positions, from its own fills only, so "
        "PnL is known per strategy when several trade one symbol. Marked every tick.",
    )
)
class StrategyPositionViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = StrategyPositionSerializer
    filterset_class = StrategyPositionFilter
    queryset = StrategyPosition.objects.none()

    def get_queryset(self):
        return strategy_position_list()
