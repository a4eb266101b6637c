"""Orders: list with filters, read with attempts and fills, place manually, cancel."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from trading.api.filters import OrderFilter
from trading.api.serializers import (
    OrderCancelSerializer,
    OrderCreateSerializer,
    OrderDetailSerializer,
    OrderSerializer,
)
from trading.api.views.common import EXCHANGE_ERRORS, ID_PARAMETER, JsonBodies, errors, exchange_for
from trading.models import Order, OrderSource
from trading.selectors import order_get, order_list
from trading.services.audit import actor_from_request
from trading.services.leases import IN_FLIGHT
from trading.services.orders import (
    MANUAL_RETRY_POLICY,
    order_cancel,
    order_place,
    order_settle_later,
)
from trading.strategies.base import OrderIntent
from xquant import roles

TAG = ["orders"]


@extend_schema_view(
    list=extend_schema(
        tags=TAG,
        summary="List orders",
        description="Newest first, 50 per page (page_size up to 500). Filters combine.",
    ),
)
class OrderViewSet(JsonBodies, viewsets.GenericViewSet):
    serializer_class = OrderSerializer
    filterset_class = OrderFilter
    queryset = Order.objects.none()  # for the schema; requests use selectors
    lookup_value_regex = "[0-9]+"
    money_endpoint = True
    write_permissions = {"create": roles.PLACE_ORDER, "cancel": roles.CANCEL_ORDER}

    def get_queryset(self):
        return order_list()

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(OrderSerializer(page, many=True).data)

    @extend_schema(
        tags=TAG,
        summary="Read an order with its exchange attempts and fills",
        parameters=[ID_PARAMETER],
        responses=OrderDetailSerializer,
    )
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(OrderDetailSerializer(order_get(order_id=int(pk))).data)

    @extend_schema(
        tags=TAG,
        summary="Place a manual order",
        request=OrderCreateSerializer,
        responses={
            201: OpenApiResponse(
                OrderDetailSerializer,
                description="The order as recorded. Check `status`: an order refused by a "
                "risk guard or an exchange filter is still created, with status rejected and "
                "error_code/error_message saying why (risk.<guard>, local.<filter>, or the "
                "exchange's code).",
            ),
            202: OpenApiResponse(
                OrderDetailSerializer,
                description="Sent, but the exchange's answer was lost (e.g. a timeout): "
                "status submitting. It is looked up in the background, never sent twice; "
                "follow the Location header for its outcome.",
            ),
            **errors(*EXCHANGE_ERRORS),
        },
        description="Goes through the same exchange filters, risk guards and order manager "
        "as strategy orders (source api). MARKET orders are valued at the current mid. "
        "Answers within about one exchange timeout. "
        "201 whenever an order record was created, accepted or rejected; 202 when its "
        "outcome is not known yet; 400 for input "
        "that cannot make an order at all (e.g. an unknown symbol); 502-504 when the "
        "exchange could not be asked.",
    )
    def create(self, request: Request) -> Response:
        serializer = OrderCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        intent = OrderIntent(
            key="",
            symbol=data["symbol"],
            side=data["side"],
            quantity=data["quantity"],
            order_type=data["order_type"],
            price=data.get("price"),
            position_side=data["position_side"],
            reduce_only=data["reduce_only"],
            time_in_force=data.get("time_in_force"),
            reason=data["reason"],
        )
        order = order_place(
            intent=intent,
            exchange=exchange_for(),
            source=OrderSource.API,
            policy=MANUAL_RETRY_POLICY,
            actor=actor_from_request(request),
        )
        body = OrderDetailSerializer(order_get(order_id=order.pk)).data
        headers = {"Location": f"/api/orders/{order.pk}"}
        if order.status in IN_FLIGHT:
            # Sent, but the exchange's answer is not known yet: follow the Location.
            order_settle_later(order=order)
            return Response(body, status=status.HTTP_202_ACCEPTED, headers=headers)
        return Response(body, status=status.HTTP_201_CREATED, headers=headers)

    @extend_schema(
        tags=TAG,
        summary="Cancel a working order",
        parameters=[ID_PARAMETER],
        request=OrderCancelSerializer,
        responses={200: OrderDetailSerializer, **errors(409, *EXCHANGE_ERRORS)},
        description="An order not yet sent is cancelled locally; an open one on the "
        "exchange. 409 when it is already finished (filled, canceled, rejected, expired) or "
        "being submitted; 503 when another process is working it (retry).",
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        order = order_get(order_id=int(pk))
        serializer = OrderCancelSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order_cancel(
            order=order,
            exchange=exchange_for(order.exchange),
            reason=serializer.validated_data["reason"],
            actor=actor_from_request(request),
        )
        return Response(OrderDetailSerializer(order_get(order_id=order.pk)).data)
