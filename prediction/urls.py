"""Research endpoints, included under /api/ by xquant/api/urls.py."""

from django.urls import include, path

from prediction import views

urlpatterns = [
    path("market-data", views.MarketDataView.as_view(), name="research-market-data"),
    path("market-data/live", views.LiveMarketDataView.as_view(), name="research-market-live"),
    path("indicators", views.IndicatorsView.as_view(), name="research-indicators"),
    path("signals", views.SignalsView.as_view(), name="research-signals"),
    path("backtest", views.BacktestLaunchView.as_view(), name="research-backtest"),
    path("backtests", views.BacktestListView.as_view(), name="research-backtest-list"),
    path(
        "backtests/<int:run_id>",
        views.BacktestDetailView.as_view(),
        name="research-backtest-detail",
    ),
    path("predict", views.PredictView.as_view(), name="research-predict"),
    path("research/strategies", views.StrategyListView.as_view(), name="research-strategies"),
    path("research/health/", views.ResearchHealthView.as_view(), name="research-health"),
    path("research/", include("prediction.research.urls")),
]
