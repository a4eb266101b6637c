"""ws/<SYMBOL>/: logged-in users get ticker and indicator events for that symbol only,
over the real Redis channel layer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator

from exchanges.base import MarketSnapshot
from prediction import indicators as ind
from prediction.services.candles import candles_store
from prediction.services.market import publish_market_update
from tests.prediction.fakes import make_bars
from xquant.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = [(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000")]
NOON = datetime(2024, 3, 1, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def redis_layer(settings):
    assert "Redis" in settings.CHANNEL_LAYERS["default"]["BACKEND"]
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def cookie(client, user):
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


def snap(seconds: int, mid: str) -> MarketSnapshot:
    m = Decimal(mid)
    return MarketSnapshot(
        "BTCUSDT", m - Decimal("0.05"), m + Decimal("0.05"), NOON + timedelta(seconds=seconds)
    )


def test_ticker_on_every_snapshot_and_indicators_when_a_candle_completes(cookie):
    history = make_bars(NOON - timedelta(minutes=60), 60, timedelta(minutes=1), price=100.0)
    # The tests trade on the paper exchange: its stream continues its own (synthetic)
    # candles, never real ones.
    candles_store(symbol="BTCUSDT", timeframe="1m", candles=history, source="paper", synthetic=True)

    async def scenario():
        ws = WebsocketCommunicator(application, "/ws/BTCUSDT/", headers=[*ORIGIN, cookie])
        connected, _ = await ws.connect(timeout=5)
        assert connected
        got = []
        for seconds, mid in ((5, "200.00"), (35, "210.00"), (40, "190.00"), (62, "205.00")):
            await sync_to_async(publish_market_update)(
                symbol="BTCUSDT", snapshot=snap(seconds, mid)
            )
        for _ in range(5):
            got.append(await ws.receive_json_from(timeout=5))
        assert await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()
        return got

    got = async_to_sync(scenario)()
    assert [m["event"] for m in got] == ["ticker"] * 4 + ["indicators"]
    assert got[0]["data"] == {
        "symbol": "BTCUSDT",
        "bid": "199.95",
        "ask": "200.05",
        "mid": "200.00",
        "spread": "0.10",
        "timestamp": "2024-03-01T12:00:05+00:00",
    }
    data = got[-1]["data"]
    # The 12:00 candle from the mids 200, 210, 190 (the 205 snapshot opened 12:01).
    assert (data["open_time"], data["open"], data["high"], data["low"], data["close"]) == (
        "2024-03-01T12:00:00+00:00",
        200.0,
        210.0,
        190.0,
        190.0,
    )
    assert data["bars"] == 61
    closes = np.array([float(b.close) for b in history] + [190.0])
    assert data["rsi"] == pytest.approx(ind.rsi(closes, 14)[-1])
    assert data["sma_fast"] == pytest.approx(closes[-20:].mean())
    assert data["macd"] is not None and data["bb_upper"] > data["bb_lower"]


def test_events_of_another_symbol_are_not_forwarded(cookie):
    async def scenario():
        ws = WebsocketCommunicator(application, "/ws/ETHUSDT/", headers=[*ORIGIN, cookie])
        connected, _ = await ws.connect(timeout=5)
        await sync_to_async(publish_market_update)(symbol="BTCUSDT", snapshot=snap(1, "100"))
        nothing = await ws.receive_nothing(timeout=0.5)
        await ws.disconnect()
        return connected, nothing

    assert async_to_sync(scenario)() == (True, True)


def test_anonymous_connection_is_refused():
    async def scenario():
        ws = WebsocketCommunicator(application, "/ws/BTCUSDT/", headers=ORIGIN)
        connected, _ = await ws.connect(timeout=5)
        await ws.disconnect()
        return connected

    assert async_to_sync(scenario)() is False


def test_first_candle_without_history_publishes_indicators_as_unknown(cookie):
    async def scenario():
        ws = WebsocketCommunicator(application, "/ws/BTCUSDT/", headers=[*ORIGIN, cookie])
        await ws.connect(timeout=5)
        await sync_to_async(publish_market_update)(symbol="BTCUSDT", snapshot=snap(1, "100"))
        await sync_to_async(publish_market_update)(symbol="BTCUSDT", snapshot=snap(61, "101"))
        got = [await ws.receive_json_from(timeout=5) for _ in range(3)]
        await ws.disconnect()
        return got

    got = async_to_sync(scenario)()
    indicators = got[-1]["data"]
    assert got[-1]["event"] == "indicators" and indicators["bars"] == 1
    assert indicators["rsi"] is None and indicators["close"] == 100.0
