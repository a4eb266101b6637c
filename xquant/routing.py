"""Websocket routes of every app, mounted by xquant.asgi."""

from django.urls import path

from trading.consumers import DashboardConsumer

websocket_urlpatterns = [
    path("ws/dashboard/", DashboardConsumer.as_asgi()),
]
