"""Websocket consumers: authenticate, join groups, forward events. Nothing else."""

from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from xquant import realtime

# Close code for "not logged in" (4000-4999 are free for applications).
UNAUTHENTICATED = 4401


class DashboardConsumer(realtime.EventForwarding, AsyncJsonWebsocketConsumer):
    """Live events for the dashboard pages of a logged-in user."""

    groups_joined: tuple[str, ...] = ()

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Closing before accept() refuses the handshake (HTTP 403).
            await self.close(code=UNAUTHENTICATED)
            return
        if not await realtime.may_read_desk(user):
            await self.close(code=realtime.FORBIDDEN)
            return
        self.groups_joined = (realtime.DASHBOARD_GROUP,)
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
