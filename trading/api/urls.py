"""The trading API under /api/. Paths are written without a trailing slash (as the
seeds and the dashboard call them); one is tolerated, so /api/orders/ works too."""

from __future__ import annotations

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from trading.api import views
from trading.api.views import performance


class OptionalSlashRouter(SimpleRouter):
    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("strategies", views.StrategyViewSet, basename="strategy")
router.register("orders", views.OrderViewSet, basename="order")
router.register("fills", views.FillViewSet, basename="fill")
router.register("positions", views.PositionViewSet, basename="position")
router.register("strategy-positions", views.StrategyPositionViewSet, basename="strategy-position")

urlpatterns = [
    re_path(r"^health/?$", views.HealthView.as_view(), name="health"),
    re_path(r"^account/?$", views.AccountView.as_view(), name="account"),
    re_path(r"^performance/?$", performance.PerformanceView.as_view(), name="performance"),
    re_path(r"^trades/?$", performance.ClosedTradesView.as_view(), name="closed-trades"),
    re_path(r"^risk/limits/?$", views.RiskLimitsView.as_view(), name="risk-limits"),
    re_path(r"^risk/kill-switch/?$", views.KillSwitchView.as_view(), name="kill-switch"),
    re_path(r"^futures/settings/?$", views.FuturesSettingsView.as_view(), name="futures-settings"),
    *router.urls,
]
