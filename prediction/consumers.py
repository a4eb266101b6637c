"""Websocket ws/<SYMBOL>/: a logged-in user's live ticker and indicator events for one
symbol. Authenticate, join the symbol's group, forward. Nothing else."""

from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from xquant import realtime

UNAUTHENTICATED = 4401


class SymbolConsumer(realtime.EventForwarding, AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Closing before accept() refuses the handshake (HTTP 403).
            await self.close(code=UNAUTHENTICATED)
            return
        if not await realtime.may_read_desk(user):
            await self.close(code=realtime.FORBIDDEN)
            return
        symbol = self.scope["url_route"]["kwargs"]["symbol"]
        self.group = realtime.symbol_group(symbol)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
