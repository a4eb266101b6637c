"""Fills and order updates pushed by the exchange are recorded as they happen, once,
across dropped connections, stalls and listen-key expiry (real ccxt.pro against the
loopback stream emulator)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchanges.registry import get_exchange
from tests.conftest import wait_for
from tests.streams.conftest import resting_order
from trading.models import AccountBalance, Fill, Order, OrderStatus, Position

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(90)]


def _filled(order: Order) -> bool:
    order.refresh_from_db()
    return order.status == OrderStatus.FILLED and Fill.objects.filter(order=order).exists()


def test_stream_fill_is_recorded_without_a_tick(streams, binance_emulator_settings):
    streams.start()
    emulator = binance_emulator_settings
    order = resting_order(get_exchange())
    trades_before = len(emulator.received("GET", "/fapi/v1/userTrades"))

    emulator.set_book("BTCUSDT", "63990.0", "63999.9")  # the resting buy fills as maker

    wait_for(lambda: _filled(order), 10, "the streamed fill to be recorded")
    fill = Fill.objects.get(order=order)
    assert fill.quantity == Decimal("0.010") and fill.price == Decimal("64000.0")
    assert fill.is_maker
    assert order.filled_quantity == Decimal("0.010") and order.average_price == Decimal("64000")
    position = Position.objects.get(exchange="binance", symbol="BTCUSDT")
    assert position.quantity == Decimal("0.010")
    # The order's fills were known from the stream: no REST read of trades for them.
    assert len(emulator.received("GET", "/fapi/v1/userTrades")) == trades_before
    # ACCOUNT_UPDATE followed the trade: the balances the dashboard shows are read again.
    balance = wait_for(
        lambda: AccountBalance.objects.filter(exchange="binance", asset="USDT").first(),
        5,
        "balance",
    )
    assert balance.wallet_balance < Decimal("100000")  # the maker fee was paid
    assert streams.runner.states["user"].reconnects == 0  # ccxt parsed every event
    wait_for(
        lambda: any(u.fill and u.fill.trade_id == fill.trade_id for u, _ in streams.applied),
        5,
        "the runner to report the applied trade",
    )


def test_listen_key_is_kept_alive_and_never_deleted(streams, binance_emulator_settings):
    streams.start(keepalive_seconds=0.3)
    keys = binance_emulator_settings.listen_keys
    wait_for(lambda: keys.count("PUT") >= 2, 10, "two keepalives")
    assert keys.count("POST") == 1
    streams.stop()
    assert keys.count("DELETE") == 0
    assert keys.active(keys.key)


def _trades(emulator) -> dict[str, int]:
    """Trade id -> order id of every trade on the emulator's account."""
    return {str(t["id"]): t["orderId"] for t in emulator.account.trades}


def _assert_each_trade_recorded_once(emulator) -> None:
    trades = _trades(emulator)
    recorded = list(Fill.objects.filter(exchange="binance").values_list("trade_id", flat=True))
    assert sorted(recorded) == sorted(trades), (recorded, trades)
    net = sum(
        (Decimal(t["qty"]) * (1 if t["side"] == "BUY" else -1) for t in emulator.account.trades),
        Decimal("0"),
    )
    position = Position.objects.get(exchange="binance", symbol="BTCUSDT")
    assert position.quantity == net


def _all_recorded(emulator) -> bool:
    return Fill.objects.filter(exchange="binance").count() == len(emulator.account.trades)


def test_fill_during_a_dropped_connection_is_recorded_once(streams, binance_emulator_settings):
    # A slow reconnection, so the fill happens while nobody is connected.
    streams.start(backoff_base_seconds=1.0, backoff_cap_seconds=1.0)
    emulator, ws, exchange = binance_emulator_settings, streams.ws, get_exchange()
    first = resting_order(exchange, price="64000.0")
    emulator.set_book("BTCUSDT", "63990.0", "63999.9")
    wait_for(lambda: _filled(first), 10, "the first fill")
    catch_ups = streams.runner.catch_ups
    second = resting_order(exchange, side="SELL", price="64100.0", qty="0.004")

    assert ws.drop("private") == 1
    emulator.set_book("BTCUSDT", "64100.0", "64100.1")  # the sell fills: the event is lost

    wait_for(lambda: streams.runner.catch_ups > catch_ups, 15, "the catch-up after reconnecting")
    wait_for(lambda: _filled(second), 10, "the fill made while disconnected")
    _assert_each_trade_recorded_once(emulator)
    assert streams.runner.states["user"].reconnects >= 1


def test_fill_during_a_stall_is_recorded_once(streams, binance_emulator_settings):
    streams.start(stall_seconds=1.2)
    emulator, ws, exchange = binance_emulator_settings, streams.ws, get_exchange()
    order = resting_order(exchange, price="64000.0")
    catch_ups = streams.runner.catch_ups

    assert ws.stall("private") == 1  # open, silent, answers no ping
    emulator.set_book("BTCUSDT", "63990.0", "63999.9")  # its event goes nowhere

    wait_for(lambda: streams.runner.catch_ups > catch_ups, 15, "the stall to be detected")
    wait_for(lambda: _filled(order), 10, "the fill made during the stall")
    _assert_each_trade_recorded_once(emulator)
    assert "timed out" in streams.runner.states["user"].last_error or "stall" in (
        streams.runner.states["user"].last_error
    )


def test_listen_key_expiry_renews_the_key_and_loses_no_fill(streams, binance_emulator_settings):
    streams.start(backoff_base_seconds=1.0, backoff_cap_seconds=1.0)
    emulator, exchange = binance_emulator_settings, get_exchange()
    keys = emulator.listen_keys
    old_key = keys.key
    order = resting_order(exchange, price="64000.0")
    catch_ups = streams.runner.catch_ups

    keys.expire()  # the stream says listenKeyExpired, then nothing more
    emulator.set_book("BTCUSDT", "63990.0", "63999.9")

    wait_for(lambda: streams.runner.catch_ups > catch_ups, 15, "a new key and the catch-up")
    wait_for(lambda: _filled(order), 10, "the fill made while the key was expired")
    _assert_each_trade_recorded_once(emulator)
    assert streams.runner.listen_key_expiries == 1
    assert keys.count("POST") == 2 and keys.key != old_key and keys.active(keys.key)
    assert keys.count("DELETE") == 0


def test_duplicated_and_reordered_events_record_each_fill_once(streams, binance_emulator_settings):
    streams.start()
    emulator, ws, exchange = binance_emulator_settings, streams.ws, get_exchange()
    ws.duplicate = ws.reorder = True
    orders = [resting_order(exchange, price=p) for p in ("64000.0", "63999.0", "63998.0")]

    emulator.set_book("BTCUSDT", "63900.0", "63990.0")  # all three fill, in one move

    wait_for(lambda: all(_filled(o) for o in orders), 10, "the three fills")
    wait_for(lambda: not streams.runner._pending, 5, "the stream's work to finish")
    _assert_each_trade_recorded_once(emulator)
    for order in orders:
        order.refresh_from_db()
        assert order.status == OrderStatus.FILLED and order.filled_quantity == order.quantity


def test_streams_wait_for_rest_at_start_then_connect(streams, binance_emulator_settings):
    binance_emulator_settings.fail("GET", "/fapi/v1/exchangeInfo", status=503, times=2)
    streams.start()  # waits for the user-data stream and its first catch-up
    infos = binance_emulator_settings.received("GET", "/fapi/v1/exchangeInfo")
    assert [r.status for r in infos][:3] == [503, 503, 200]


def test_a_malformed_event_is_skipped_and_the_connection_stays(streams, binance_emulator_settings):
    streams.start()
    ws = streams.ws
    ws._loop.call_soon_threadsafe(ws._deliver, {"e": "ORDER_TRADE_UPDATE", "o": {"X": "NEW"}})
    order = resting_order(get_exchange(), price="64000.0")
    binance_emulator_settings.set_book("BTCUSDT", "63990.0", "63999.9")
    wait_for(lambda: _filled(order), 10, "the fill after the malformed event")
    assert streams.runner.states["user"].reconnects == 0
