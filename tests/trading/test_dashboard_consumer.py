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


def test_logged_in_user_receives_price_order_and_fill_events_of_a_real_tick(layer, client, user):
    """One tick through the real services on the paper exchange: the TWAP's first slice is
    placed, submitted and filled, and the page's socket hears all of it."""
    from exchanges.paper import PaperExchange
    from trading.services.orders import order_submit
    from trading.services.strategies import strategy_config_create
    from trading.services.strategy_manager import StrategyManager
    from trading.services.tick import tick_run

    strategy = strategy_config_create(
        name="consumer TWAP",
        kind="twap",
        symbol="BTCUSDT",
        params={"side": "BUY", "total_quantity": "0.010", "slices": 2, "interval_seconds": 60},
        is_active=True,
    )
    exchange = PaperExchange(account="consumer-test", symbols=["BTCUSDT"])
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()

    def tick():
        return tick_run(
            symbol="BTCUSDT",
            exchange=exchange,
            manager=StrategyManager(exchange),
            submit=lambda order: order_submit(order=order, exchange=exchange),
        )

    async def scenario():
        communicator = WebsocketCommunicator(
            application, "/ws/dashboard/", headers=[*ORIGIN, (b"cookie", cookie)]
        )
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        # The creation of the strategy was published before this socket existed.
        result = await sync_to_async(tick)()
        events = []
        while not any(event == "price" for event, _ in events):
            message = await communicator.receive_json_from(timeout=5)
            events.append((message["event"], message["data"]))
        while not await communicator.receive_nothing(timeout=0.3):
            message = await communicator.receive_json_from(timeout=5)
            events.append((message["event"], message["data"]))
        await communicator.disconnect()
        return result, events

    result, events = async_to_sync(scenario)()

    [order] = result.orders
    order.refresh_from_db()
    assert order.status == "filled"
    by_type: dict[str, list[dict]] = {}
    for event, data in events:
        by_type.setdefault(event, []).append(data)
    statuses = [data["status"] for data in by_type["order.updated"] if data["id"] == order.pk]
    assert statuses[0] == "pending"
    assert statuses[-1] == "filled"
    assert by_type["order.updated"][-1]["strategy_id"] == strategy.pk
    [fill] = by_type["fill.created"]
    assert (fill["order_id"], fill["strategy_id"]) == (order.pk, strategy.pk)
    assert Decimal(fill["quantity"]) == Decimal("0.005")
    [price] = by_type["price"]
    assert price["symbol"] == "BTCUSDT"
    assert Decimal(price["mid"]) == result.mid
    positions = by_type["position.updated"]
    assert Decimal(positions[-1]["quantity"]) == Decimal("0.005")
