from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import channel_layers, get_channel_layer

from xquant import realtime


class EventRecorder:
    """A channel in the dashboard group, as a consumer would have: what it received."""

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(realtime.DASHBOARD_GROUP, self.channel)

    def drain(self) -> list[tuple[str, dict]]:
        async def receive_all() -> list[tuple[str, dict]]:
            events = []
            while True:
                try:
                    message = await asyncio.wait_for(self.layer.receive(self.channel), 0.05)
                except TimeoutError:
                    return events
                events.append((message["event"], message["data"]))

        return async_to_sync(receive_all)()

    def of_type(self, event_type: str) -> list[dict]:
        return [data for event, data in self.drain() if event == event_type]


@pytest.fixture
def dashboard_events(settings):
    """Events published to the dashboard group during the test (in-memory layer)."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layers.backends.clear()
    yield EventRecorder()
    channel_layers.backends.clear()
