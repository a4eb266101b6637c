from django.urls import path

from trading.views import actions, activity, pages, performance, research

app_name = "trading"

urlpatterns = [
    path("", pages.overview, name="overview"),
    path("orders/", pages.orders, name="orders"),
    path("performance/", performance.performance_page, name="performance"),
    path("activity/", activity.activity_page, name="activity"),
    path("orders/place/", actions.order_place_view, name="order-place"),
    path("orders/cancel-open/", actions.orders_cancel_open_view, name="orders-cancel-open"),
    path("orders/<int:order_id>/", pages.order_detail, name="order"),
    path("orders/<int:order_id>/cancel/", actions.order_cancel_view, name="order-cancel"),
    path("strategies/<int:strategy_id>/", pages.strategy_detail, name="strategy"),
    path("strategies/<int:strategy_id>/toggle/", actions.strategy_toggle, name="strategy-toggle"),
    path("risk/kill-switch/", actions.kill_switch, name="kill-switch"),
    path("positions/<int:position_id>/close/", actions.position_close_view, name="position-close"),
    path("audit/", pages.audit, name="audit"),
    path("market/", research.market_index, name="market-index"),
    path("market/<str:symbol>/", research.market, name="market"),
    path("backtests/", research.backtests, name="backtests"),
    path("backtests/compare/", research.backtest_compare, name="backtest-compare"),
    path("backtests/<int:run_id>/", research.backtest_detail, name="backtest"),
]
