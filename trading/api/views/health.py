"""GET /api/health: the one public endpoint."""

from __future__ import annotations

import logging

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from trading.api.serializers import HealthSerializer
from trading.health import health_report

logger = logging.getLogger("trading.api")


class HealthThrottle(AnonRateThrottle):
    """The anonymous rate, per client address, whoever asks (the check calls the
    exchange, so it must not be an open amplifier). Throttling needs the cache, which
    may be the Redis this endpoint reports on: if the cache is down the request passes,
    so the answer is a 503 naming Redis rather than a 500."""

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": "health", "ident": self.get_ident(request)}

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception:
            logger.warning("health throttle skipped: the cache is unavailable", exc_info=True)
            return True


class HealthView(APIView):
    # Public: no credentials needed, and wrong ones are ignored rather than refused.
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [HealthThrottle]

    @extend_schema(
        tags=["health"],
        summary="Health of the database, Redis, exchange, trading loop, prediction service",
        auth=[],
        responses={
            200: OpenApiResponse(HealthSerializer, description="Everything answers."),
            503: OpenApiResponse(HealthSerializer, description="`failing` lists what does not."),
        },
        description="Public (no authentication). Checks: database; redis (when REDIS_URL "
        "is set); exchange (one book-ticker call); trader (last tick per symbol, stale "
        "after 3 tick intervals and at least 30 s); prediction (when PREDICTION_API_BASE_URL "
        "is set). Never shows connection URLs or secrets.",
    )
    def get(self, request: Request) -> Response:
        report = health_report()
        code = (
            status.HTTP_200_OK if report["status"] == "ok" else status.HTTP_503_SERVICE_UNAVAILABLE
        )
        return Response(HealthSerializer(report).data, status=code)
