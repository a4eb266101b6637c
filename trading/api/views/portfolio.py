"""Fills, positions and per-strategy positions (read only)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from trading.api.filters import FillFilter, PositionFilter, StrategyPositionFilter
from trading.api.serializers import (
    FillSerializer,
    MoneyField,
    OrderDetailSerializer,
    PositionSerializer,
    StrategyPositionSerializer,
)
from trading.api.views.common import EXCHANGE_ERRORS, ID_PARAMETER, errors, exchange_for
from trading.models import Fill, OrderSource, Position, StrategyPosition
from trading.selectors import (
    account_view,
    fill_list,
    order_get,
    position_list,
    strategy_position_list,
)
from trading.services.audit import actor_from_request
from trading.services.positions import position_close
from xquant import roles
from xquant.errors import NotFoundError


class PositionCloseResultSerializer(serializers.Serializer):
    orders = OrderDetailSerializer(many=True)


class AccountSerializer(serializers.Serializer):
    asset = serializers.CharField()
    wallet_balance = MoneyField(help_text="Deposits plus realised PnL net of fees.")
    unrealized_pnl = MoneyField(help_text="Of the open positions, at the last tick's mid.")
    equity = MoneyField(help_text="Wallet balance plus unrealised PnL.")
    used_margin = MoneyField(help_text="Initial margin held by positions and open orders.")
    available = MoneyField(help_text="What new orders may use.")
    fetched_at = serializers.DateTimeField(help_text="When the exchange was last asked.")
    marked_at = serializers.DateTimeField(
        allow_null=True, help_text="The last tick's marks in unrealised and equity."
    )


class AccountView(APIView):
    @extend_schema(
        tags=["account"],
        summary="The account now: balance, equity, margin",
        responses={200: AccountSerializer, **errors(404)},
        description="The balance as last read from the exchange (the trader reads it "
        "every few seconds), with unrealised PnL, equity and available margin at the last "
        "tick's marks. 404 before the first read.",
    )
    def get(self, request: Request) -> Response:
        account = account_view(exchange_name=settings.EXCHANGE)
        if account is None:
            raise NotFoundError("The account's balance has not been read from the exchange yet.")
        return Response(AccountSerializer(account).data)


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
    lookup_value_regex = "[0-9]+"
    write_permissions = {"close": roles.PLACE_ORDER}
    money_endpoint = True

    def get_queryset(self):
        return position_list()

    @extend_schema(
        tags=["positions"],
        summary="Close a position (reduce-only), the strategies' shares on their books",
        parameters=[ID_PARAMETER],
        request=None,
        responses={
            200: OpenApiResponse(
                PositionCloseResultSerializer,
                description="The orders sent: one per strategy whose book holds part of "
                "the position (booked to it, so it knows it is flat), largest first, and "
                "one for the part no strategy holds. Check each `status`.",
            ),
            **errors(404, 409, *EXCHANGE_ERRORS),
        },
        description="Market, reduce-only orders through the same filters, risk guards and "
        "order manager as every order (source api). 409 when the position is flat.",
    )
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str) -> Response:
        position = Position.objects.filter(pk=int(pk)).first()
        if position is None:
            raise NotFoundError(f"No position with id {pk}.")
        orders = position_close(
            position=position,
            exchange=exchange_for(position.exchange),
            by=request.user.get_username() or "the API",
            source=OrderSource.API,
            actor=actor_from_request(request),
        )
        body = [OrderDetailSerializer(order_get(order_id=o.pk)).data for o in orders]
        return Response({"orders": body})


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
