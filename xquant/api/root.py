"""GET /api/: where everything is, for a person or a program that starts at the root."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

#: (key, URL name) of the endpoints a client starts from; the schema lists every one.
ENTRY_POINTS = [
    ("health", "health"),
    ("account", "account"),
    ("performance", "performance"),
    ("closed_trades", "closed-trades"),
    ("strategies", "strategy-list"),
    ("orders", "order-list"),
    ("fills", "fill-list"),
    ("positions", "position-list"),
    ("strategy_positions", "strategy-position-list"),
    ("risk_limits", "risk-limits"),
    ("kill_switch", "kill-switch"),
    ("futures_settings", "futures-settings"),
    ("market_data", "research-market-data"),
    ("indicators", "research-indicators"),
    ("signals", "research-signals"),
    ("backtests", "research-backtest-list"),
    ("predict", "research-predict"),
    ("schema", "api-schema"),
    ("docs", "api-docs"),
]


class ApiRootView(APIView):
    @extend_schema(
        summary="The API's entry points",
        description="Absolute URLs of the main endpoints; /api/schema/ lists them all.",
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        return Response(
            {key: reverse(name, request=request).replace("/?", "") for key, name in ENTRY_POINTS}
        )
