"""The dashboard websocket: logged-in users get live events, anonymous ones are refused.
Runs over the real Redis channel layer and over the in-memory one of embedded mode."""

from __future__ import annotations

from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator

from xquant import realtime
from xquant.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = [(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000")]


@pytest.fixture(params=["redis", "in-memory"])
def layer(request, settings):
    if request.param == "in-memory":
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layers.backends.clear()
    yield request.param
    channel_layers.backends.clear()


def connect_and_receive(headers, publish=None):
    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/dashboard/", headers=headers)
        connected, code = await communicator.connect(timeout=5)
        received = None
        if connected and publish:
            await sync_to_async(realtime.publish)(*publish)
            received = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return connected, code, received

    return async_to_sync(scenario)()


def test_logged_in_user_receives_published_events(layer, client, user):
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    connected, _, received = connect_and_receive(
        [*ORIGIN, (b"cookie", cookie)],
        publish=(
            realtime.DASHBOARD_GROUP,
            "order.updated",
            {"id": 7, "price": Decimal("65000.10")},
        ),
    )
    assert connected
    assert received == {"event": "order.updated", "data": {"id": 7, "price": "65000.10"}}


def test_anonymous_connection_is_refused(layer):
    connected, _, _ = connect_and_receive(ORIGIN)
    assert not connected


def test_connection_from_a_foreign_origin_is_refused(layer, client, user):
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    connected, _, _ = connect_and_receive(
        [(b"origin", b"http://evil.example.com"), (b"cookie", cookie)]
    )
    assert not connected
