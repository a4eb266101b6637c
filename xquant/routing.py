"""Websocket routes of every app, mounted by xquant.asgi."""

from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import path, re_path

from prediction.consumers import SymbolConsumer
from trading.consumers import DashboardConsumer

websocket_urlpatterns = [
    path("ws/dashboard/", DashboardConsumer.as_asgi()),
    # Upper-case exchange symbols (settings.SYMBOL_PATTERN), so never "dashboard".
    re_path(r"^ws/(?P<symbol>[A-Z0-9]{2,20})/$", SymbolConsumer.as_asgi()),
]

#: Close code for a websocket path no route serves.
NOT_FOUND = 4404


class NoRouteConsumer(AsyncWebsocketConsumer):
    """Any other path: the handshake is refused (HTTP 403) instead of Channels raising
    "No route found" (a 500 with a traceback in the server log)."""

    async def connect(self) -> None:
        await self.close(code=NOT_FOUND)


#: What the server mounts: the routes, then the refusal of every other path.
websocket_routes = [*websocket_urlpatterns, re_path(r"", NoRouteConsumer.as_asgi())]
