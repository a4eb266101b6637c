"""Risk limits, the kill switch, and futures account settings."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from trading.api.filters import FuturesSettingsFilter
from trading.api.serializers import (
    FuturesSettingsApplySerializer,
    FuturesSettingsSerializer,
    KillSwitchResultSerializer,
    KillSwitchSerializer,
    RiskLimitsSerializer,
    RiskLimitsUpdateSerializer,
)
from trading.api.views.common import EXCHANGE_ERRORS, JsonBodies, errors, exchange_for
from trading.models import FuturesSettings, RiskLimits
from trading.selectors import futures_settings_list, risk_limits_get
from trading.services.audit import actor_from_request
from trading.services.futures import futures_settings_apply
from trading.services.risk import (
    kill_switch_engage,
    kill_switch_release,
    loss_today,
    risk_limits_update,
)
from xquant import roles


def _limits_body(limits: RiskLimits) -> dict:
    limits.loss_today = loss_today(exchange_name=settings.EXCHANGE, limits=limits)
    return RiskLimitsSerializer(limits).data


class RiskLimitsView(JsonBodies, APIView):
    write_permissions = {"PATCH": roles.CHANGE_RISK_LIMITS}
    money_endpoint = True

    @extend_schema(
        tags=["risk"],
        summary="Read the risk limits and kill switch state",
        responses=RiskLimitsSerializer,
    )
    def get(self, request: Request) -> Response:
        return Response(_limits_body(risk_limits_get()))

    @extend_schema(
        tags=["risk"],
        summary="Change risk limits",
        request=RiskLimitsUpdateSerializer,
        responses=RiskLimitsSerializer,
        description="Send only the limits to change. Amounts are USDT and must be positive; "
        "they apply to the next order checked.",
    )
    def patch(self, request: Request) -> Response:
        serializer = RiskLimitsUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        limits = risk_limits_update(**serializer.validated_data, actor=actor_from_request(request))
        return Response(_limits_body(limits))


class KillSwitchView(JsonBodies, APIView):
    write_permissions = {"POST": roles.OPERATE_KILL_SWITCH}
    money_endpoint = True

    @extend_schema(
        tags=["risk"],
        summary="Engage or release the kill switch",
        request=KillSwitchSerializer,
        responses={200: KillSwitchResultSerializer, **errors(*EXCHANGE_ERRORS)},
        description="engage true: every new order is refused from now on, and every open "
        "order is cancelled (failed lists those that could not be). engage false: orders "
        "are allowed again. Idempotent.",
    )
    def post(self, request: Request) -> Response:
        serializer = KillSwitchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reason = serializer.validated_data["reason"]
        if serializer.validated_data["engage"]:
            result = kill_switch_engage(
                reason=reason or "engaged through the API",
                exchange=exchange_for(),
                actor=actor_from_request(request),
            )
        else:
            kill_switch_release(reason=reason, actor=actor_from_request(request))
            result = {"canceled": 0, "failed": []}
        limits = risk_limits_get()
        body = {
            "engaged": limits.kill_switch_engaged,
            "reason": limits.kill_switch_reason,
            "changed_at": limits.kill_switch_changed_at,
            "canceled": result["canceled"],
            "failed": result["failed"],
        }
        return Response(KillSwitchResultSerializer(body).data)


class FuturesSettingsView(JsonBodies, generics.GenericAPIView):
    serializer_class = FuturesSettingsSerializer
    filterset_class = FuturesSettingsFilter
    queryset = FuturesSettings.objects.none()
    write_permissions = {"POST": roles.APPLY_FUTURES_SETTINGS}
    money_endpoint = True

    def get_queryset(self):
        return futures_settings_list()

    @extend_schema(
        tags=["futures"],
        summary="List the futures settings last applied per symbol",
        responses=FuturesSettingsSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(FuturesSettingsSerializer(page, many=True).data)

    @extend_schema(
        tags=["futures"],
        summary="Apply leverage, margin mode and position mode",
        request=FuturesSettingsApplySerializer,
        responses={200: FuturesSettingsSerializer, **errors(*EXCHANGE_ERRORS)},
        description="Sends what is given to the exchange (position mode is account-wide), "
        "records the result and returns it. A setting that already was so counts as "
        "applied (detail.<setting>.changed false).",
    )
    def post(self, request: Request) -> Response:
        serializer = FuturesSettingsApplySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        position_mode = data.get("position_mode")
        row = futures_settings_apply(
            exchange=exchange_for(),
            symbol=data["symbol"],
            leverage=data.get("leverage"),
            margin_mode=data.get("margin_mode"),
            hedge=None if position_mode is None else position_mode == "hedge",
            actor=actor_from_request(request),
        )
        return Response(FuturesSettingsSerializer(row).data)
