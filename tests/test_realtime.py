"""The realtime helper: events reach the in-memory layer's loop from any thread, and the
Redis layer in order through the background publisher."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, channel_layers

from xquant import realtime


@pytest.fixture
def memory_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layers.backends.clear()
    yield channel_layers["default"]
    channel_layers.backends.clear()
    realtime.bind_server_loop(None)


def test_events_from_other_threads_reach_the_bound_server_loop(memory_layer):
    assert isinstance(memory_layer, InMemoryChannelLayer)
    loop = asyncio.new_event_loop()
    received: list[dict] = []
    ready = threading.Event()

    async def listen():
        channel = await memory_layer.new_channel()
        await memory_layer.group_add("dashboard", channel)
        ready.set()
        for _ in range(2):
            received.append(await memory_layer.receive(channel))

    server = threading.Thread(target=lambda: loop.run_until_complete(listen()), daemon=True)
    server.start()
    assert ready.wait(5)
    realtime.bind_server_loop(loop)
    realtime.publish("dashboard", "price", {"mid": "1"})  # from the test's thread
    worker = threading.Thread(target=realtime.publish, args=("dashboard", "price", {"mid": "2"}))
    worker.start()
    worker.join(5)
    server.join(5)
    assert [m["data"]["mid"] for m in received] == ["1", "2"]


@pytest.fixture
def redis_listener():
    """A channel of the Redis layer (as a consumer would have), in group "listened"."""
    channel_layers.backends.clear()
    layer = channel_layers["default"]
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("listened", channel)
    yield lambda: async_to_sync(layer.receive)(channel)
    channel_layers.backends.clear()


def test_events_go_through_redis_in_the_order_published(redis_listener):
    for i in range(20):
        realtime.publish("listened", "n", {"i": i})
    realtime.flush()
    received = []
    while len(received) < 20:
        received += [event["data"]["i"] for event in realtime.events_of(redis_listener())]
    assert received == list(range(20))


def test_events_published_together_travel_as_one_batch_and_reach_pages_one_by_one(
    redis_listener,
):
    for i in range(5):
        realtime.publish("listened", "n", {"i": i})
    realtime.flush()
    message = redis_listener()
    assert message["type"] == "xquant.batch"
    assert [event["data"]["i"] for event in message["events"]] == [0, 1, 2, 3, 4]

    class Forwarder(realtime.EventForwarding):
        def __init__(self):
            self.sent = []

        async def send_json(self, content):
            self.sent.append(content)

    forwarder = Forwarder()
    async_to_sync(forwarder.xquant_batch)(message)
    assert forwarder.sent == [{"event": "n", "data": {"i": i}} for i in range(5)]
