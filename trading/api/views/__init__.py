from trading.api.views.health import HealthView
from trading.api.views.orders import OrderViewSet
from trading.api.views.portfolio import (
    AccountView,
    FillViewSet,
    PositionViewSet,
    StrategyPositionViewSet,
)
from trading.api.views.risk import FuturesSettingsView, KillSwitchView, RiskLimitsView
from trading.api.views.strategies import StrategyViewSet

__all__ = [
    "AccountView",
    "FillViewSet",
    "FuturesSettingsView",
    "HealthView",
    "KillSwitchView",
    "OrderViewSet",
    "PositionViewSet",
    "RiskLimitsView",
    "StrategyPositionViewSet",
    "StrategyViewSet",
]
