"""Websocket routes of every app, mounted by xquant.asgi."""

from django.urls import path, re_path

from prediction.consumers import SymbolConsumer
from trading.consumers import DashboardConsumer

websocket_urlpatterns = [
    path("ws/dashboard/", DashboardConsumer.as_asgi()),
    # Upper-case exchange symbols (settings.SYMBOL_PATTERN), so never "dashboard".
    re_path(r"^ws/(?P<symbol>[A-Z0-9]{2,20})/$", SymbolConsumer.as_asgi()),
]
