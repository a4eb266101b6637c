"""Faults in sequence against the Binance emulator: a lost answer, then lookups that keep
failing, then reconciliation and later passes. Whatever the order of events, one order
row per exchange order, its fills belong to its strategy, the positions equal the
exchange's, and nothing stops the trader."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal as D

import pytest

from tests.conftest import ROOT, trader_env, wait_for
from tests.factories import StrategyConfigFactory
from trading.models import (
    Fill,
    Order,
    OrderSource,
    OrderStatus,
    Position,
    ReconcileIssue,
    StrategyStatus,
)
from trading.services.orders import RetryPolicy, order_create, order_submit
from trading.services.reconciliation import reconcile
from trading.services.risk import risk_state_get
from trading.strategies.base import OrderIntent

pytestmark = pytest.mark.django_db

ORDER_PATH = "/fapi/v1/order"
FAST = RetryPolicy(base_delay=0.01, max_delay=0.05)


@pytest.fixture
def exchange(binance_exchange, binance_emulator):
    binance_emulator.set_book("BTCUSDT", "65000.0", "65000.1")
    binance_exchange.request_expiry_seconds = 0.2
    return binance_exchange


def strategy_order(exchange, strategy, quantity="0.002") -> Order:
    intent = OrderIntent(
        key="slice-1", symbol="BTCUSDT", side="BUY", quantity=D(quantity), order_type="MARKET"
    )
    return order_create(
        intent=intent,
        exchange=exchange,
        source=OrderSource.STRATEGY,
        strategy=strategy,
        risk_state=risk_state_get(exchange_name=exchange.name),
        reference_price=D("65000.05"),
    )


def limit_order(exchange, price: str) -> Order:
    """A manual GTC buy of 0.002 BTC at `price`, recorded and not yet sent."""
    intent = OrderIntent(
        key="",
        symbol="BTCUSDT",
        side="BUY",
        quantity=D("0.002"),
        order_type="LIMIT",
        price=D(price),
        time_in_force="GTC",
    )
    return order_create(
        intent=intent,
        exchange=exchange,
        source=OrderSource.API,
        risk_state=risk_state_get(exchange_name=exchange.name),
    )


def lost_answer_then_failing_lookups(exchange, emulator, order) -> Order:
    emulator.drop("POST", ORDER_PATH, process=True)
    emulator.fail("GET", ORDER_PATH, status=503, body="<html>down</html>", times=FAST.max_lookups)
    order = order_submit(order=order, exchange=exchange, policy=FAST, sleep=lambda s: None)
    assert order.status == OrderStatus.SUBMITTING
    assert order.exchange_order_id is None
    return order


def assert_settled(emulator, order, strategy) -> None:
    [exchange_order] = emulator.orders_with_client_id(order.client_order_id)
    rows = Order.objects.filter(
        exchange="binance", exchange_order_id=str(exchange_order["orderId"])
    )
    assert [r.pk for r in rows] == [order.pk]
    order.refresh_from_db()
    assert (order.status, order.filled_quantity) == (OrderStatus.FILLED, D("0.002"))
    fills = Fill.objects.filter(exchange="binance", symbol="BTCUSDT")
    assert [(f.order_id, f.strategy_id, f.quantity) for f in fills] == [
        (order.pk, strategy.pk, D("0.002"))
    ]
    position = Position.objects.get(exchange="binance", symbol="BTCUSDT")
    assert position.quantity == D("0.002")


def test_a_trade_of_our_unresolved_order_is_attached_to_it_not_adopted(exchange, binance_emulator):
    strategy = StrategyConfigFactory(kind="twap", symbol="BTCUSDT")
    order = lost_answer_then_failing_lookups(
        exchange, binance_emulator, strategy_order(exchange, strategy)
    )

    # The periodic pass, which leaves young SUBMITTING orders to their sender: it meets
    # the trade first, and the exchange names our client order id as its owner.
    report = reconcile(exchange=exchange, symbols=["BTCUSDT"], settle_after=timedelta(seconds=30))

    assert report.errors == []
    assert report.adopted_orders == []
    assert_settled(binance_emulator, order, strategy)
    assert [a.outcome for a in order.attempts.order_by("number")][:2] == ["unknown", "error"]


def test_an_order_adopted_before_its_lookup_succeeds_is_merged_into_ours(
    exchange, binance_emulator
):
    """The record as the old reconciliation left it: the trade adopted as a stranger's
    order, then our lookup finds the same exchange order. One row survives."""
    strategy = StrategyConfigFactory(kind="twap", symbol="BTCUSDT")
    order = lost_answer_then_failing_lookups(
        exchange, binance_emulator, strategy_order(exchange, strategy)
    )
    # Who owns the trade cannot be asked either: it is not adopted, and it says so.
    binance_emulator.fail("GET", ORDER_PATH, status=503, body="<html>down</html>", times=20)
    report = reconcile(exchange=exchange, symbols=["BTCUSDT"], settle_after=timedelta(seconds=30))
    assert report.adopted_orders == []
    assert report.errors
    assert ReconcileIssue.objects.open().filter(symbol="BTCUSDT").exists()
    binance_emulator.clear_faults()

    # Adopt it the way the old code did, as a stranger's order with the fill.
    from trading.services import reconciliation

    [exchange_order] = binance_emulator.orders_with_client_id(order.client_order_id)
    trades = exchange.fetch_fills("BTCUSDT", exchange_order_id=str(exchange_order["orderId"]))
    stranger = reconciliation.adopt._adopt_order_from_fills(
        exchange, "BTCUSDT", str(exchange_order["orderId"]), trades
    )
    from trading.services.fills import fills_record

    fills_record(order=stranger, fills=trades)

    order = order_submit(order=order, exchange=exchange, policy=FAST, sleep=lambda s: None)

    stranger.refresh_from_db()
    assert stranger.exchange_order_id is None
    assert (stranger.status, stranger.filled_quantity) == (OrderStatus.CANCELED, D("0"))
    assert order.client_order_id in stranger.error_message
    assert_settled(binance_emulator, order, strategy)
    report = reconcile(exchange=exchange, symbols=["BTCUSDT"])
    assert (report.errors, report.adopted_orders, report.corrected_positions) == ([], [], [])
    assert not ReconcileIssue.objects.open().exists()


def manage(emulator, *args: str) -> subprocess.CompletedProcess:
    env = trader_env(
        EXCHANGE="binance",
        EXCHANGE_API_KEY=emulator.api_key,
        EXCHANGE_API_SECRET=emulator.api_secret,
        EXCHANGE_BASE_URL=emulator.url,
        EXCHANGE_TIMEOUT_SECONDS="5",
    )
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=180,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_commands_exit_cleanly_after_the_sequence(exchange, binance_emulator):
    strategy = StrategyConfigFactory(kind="twap", symbol="BTCUSDT", is_active=False)
    order = lost_answer_then_failing_lookups(
        exchange, binance_emulator, strategy_order(exchange, strategy)
    )

    for command in (["reconcile"], ["runtrader", "--once"], ["reconcile"]):
        done = manage(binance_emulator, *command)
        assert done.returncode == 0, done.stdout + done.stderr

    assert_settled(binance_emulator, order, strategy)
    assert len(binance_emulator.received("POST", ORDER_PATH)) == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_trader_killed_while_its_lookups_fail_restarts_and_settles_later(binance_emulator):
    """The trader sends a strategy's order, the answer is lost, every lookup fails and
    the trader is killed meanwhile. It restarts while the exchange still cannot answer
    lookups (start-up reconciliation meets the trade but cannot learn its owner), then a
    later pass, once the exchange answers again, settles it all."""
    binance_emulator.set_book("BTCUSDT", "65000.0", "65000.1")
    strategy = StrategyConfigFactory(
        kind="twap",
        symbol="BTCUSDT",
        params={"side": "BUY", "total_quantity": "0.002", "slices": 1, "interval_seconds": 60},
    )
    binance_emulator.drop("POST", ORDER_PATH, process=True)
    binance_emulator.fail("GET", ORDER_PATH, status=503, body="<html>down</html>", times=1000)
    env = trader_env(
        EXCHANGE="binance",
        EXCHANGE_API_KEY=binance_emulator.api_key,
        EXCHANGE_API_SECRET=binance_emulator.api_secret,
        EXCHANGE_BASE_URL=binance_emulator.url,
        EXCHANGE_TIMEOUT_SECONDS="5",
    )
    first = subprocess.Popen(
        [sys.executable, "manage.py", "runtrader", "--symbols", "BTCUSDT"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: binance_emulator.received("GET", ORDER_PATH), 60, "a failing lookup")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    order = Order.objects.get(strategy=strategy)
    assert (order.status, order.exchange_order_id) == (OrderStatus.SUBMITTING, None)

    restarted = manage(binance_emulator, "runtrader", "--once", "--symbols", "BTCUSDT")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert "1 errors" in restarted.stdout or "2 errors" in restarted.stdout
    assert ReconcileIssue.objects.open().filter(symbol="BTCUSDT").exists()
    assert not Order.objects.filter(source=OrderSource.RECONCILIATION).exists()

    binance_emulator.clear_faults()
    for command in (["reconcile"], ["runtrader", "--once"]):
        done = manage(binance_emulator, *command)
        assert done.returncode == 0, done.stdout + done.stderr

    assert_settled(binance_emulator, order, strategy)
    assert len(binance_emulator.received("POST", ORDER_PATH)) == 1
    assert not ReconcileIssue.objects.open().exists()
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.FINISHED


def test_after_a_restart_with_the_exchange_clock_8_s_ahead_one_tick_records_a_resting_fill(
    exchange, binance_emulator
):
    from exchanges.binance import BinanceExchange
    from exchanges.binance.throttle import LocalWeightStore
    from trading.services.orders import SendNow
    from trading.services.strategy_manager import StrategyManager
    from trading.services.tick import tick_run

    resting = limit_order(exchange, "64000.0")
    resting = order_submit(order=resting, exchange=exchange, policy=FAST, sleep=lambda s: None)
    assert resting.status == OrderStatus.OPEN

    # The trader restarts (nothing measured yet) while the exchange's clock is 8 s ahead,
    # beyond the 5 s recvWindow, and the order fills on the exchange meanwhile.
    binance_emulator.shift_clock(8_000)
    binance_emulator.set_book("BTCUSDT", "63900.0", "63900.1")
    restarted = BinanceExchange(
        api_key=binance_emulator.api_key,
        api_secret=binance_emulator.api_secret,
        base_url=binance_emulator.url,
        timeout=1.0,
        weight_store=LocalWeightStore(),
    )
    try:
        tick_run(
            symbol="BTCUSDT",
            exchange=restarted,
            manager=StrategyManager(restarted),
            submit=SendNow(restarted),
        )
    finally:
        restarted.close()

    resting.refresh_from_db()
    assert (resting.status, resting.filled_quantity) == (OrderStatus.FILLED, D("0.002"))
    assert Fill.objects.get(order=resting).price == D("64000.0")
    assert Position.objects.get(exchange="binance", symbol="BTCUSDT").quantity == D("0.002")
    signed = [r for r in binance_emulator.received() if "signature" in r.params]
    assert {r.status for r in signed} == {200}


def test_reconciliation_leaves_an_order_a_live_process_is_sending_and_takes_a_dead_ones(
    exchange, binance_emulator
):
    import os
    import socket

    from django.utils import timezone

    order = limit_order(exchange, "60000.0")
    order = lost_answer_then_failing_lookups(exchange, binance_emulator, order)
    assert order.claimed_by == ""  # its sender gave it up for a later pass
    attempts = order.attempts.count()

    host = socket.gethostname()
    alive = f"{host}|{os.getppid()}|1"  # e.g. the web server, still at it
    lease_until = timezone.now() + timedelta(seconds=60)
    Order.objects.filter(pk=order.pk).update(claimed_by=alive, lease_until=lease_until)
    report = reconcile(exchange=exchange, symbols=["BTCUSDT"])
    order.refresh_from_db()
    assert (order.status, order.attempts.count()) == (OrderStatus.SUBMITTING, attempts)
    assert report.resolved_orders == []

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    Order.objects.filter(pk=order.pk).update(claimed_by=f"{host}|{gone.pid}|1")
    report = reconcile(exchange=exchange, symbols=["BTCUSDT"])
    order.refresh_from_db()
    assert order.status == OrderStatus.OPEN
    assert report.resolved_orders == [f"{order.client_order_id}: submitting → open"]
    assert len(binance_emulator.orders_with_client_id(order.client_order_id)) == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_reconciliation_in_another_process_while_an_order_waits_for_its_answer(
    exchange, binance_emulator
):
    """The exchange fills the order but sits on the answer; meanwhile another process
    reconciles. It meets the trade, learns it is this order's, and records it once; the
    position is never overwritten under the sender's feet, and the late answer adds
    nothing."""
    import threading

    exchange.timeout = 5.0
    binance_emulator.delay("POST", ORDER_PATH, seconds=4.0, process=True)
    strategy = StrategyConfigFactory(kind="twap", symbol="BTCUSDT", is_active=False)
    order = strategy_order(exchange, strategy)

    def send() -> None:
        from django.db import connection

        try:
            order_submit(order=order, exchange=exchange, policy=FAST, sleep=lambda s: None)
        finally:
            connection.close()

    sender = threading.Thread(target=send)
    sender.start()
    try:
        wait_for(lambda: binance_emulator.received("POST", ORDER_PATH), 10, "the order to be sent")
        done = manage(binance_emulator, "reconcile")
    finally:
        sender.join(timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 positions corrected" in done.stdout
    assert_settled(binance_emulator, order, strategy)
    assert len(binance_emulator.received("POST", ORDER_PATH)) == 1


def test_fills_that_could_not_be_fetched_when_an_order_filled_are_collected_later(
    exchange, binance_emulator
):
    """The order fills, but the exchange fails the read of its trades: the order is
    recorded filled without them. A finished order is not followed again, and a later
    fill of another order puts the trade outside the pass's window of recent trades;
    reconciliation still asks for what the order is owed."""
    from django.utils import timezone

    from tests.factories import FillFactory

    strategy = StrategyConfigFactory(kind="twap", symbol="BTCUSDT")
    binance_emulator.fail("GET", "/fapi/v1/userTrades", status=503, body="<html>down</html>")
    order = order_submit(
        order=strategy_order(exchange, strategy),
        exchange=exchange,
        policy=FAST,
        sleep=lambda s: None,
    )
    assert (order.status, order.fills.count()) == (OrderStatus.FILLED, 0)
    FillFactory(
        exchange="binance", executed_at=timezone.now() + timedelta(minutes=10), trade_id="later"
    )

    report = reconcile(exchange=exchange, symbols=["BTCUSDT"])

    [trade] = binance_emulator.account.trades
    assert report.adopted_fills == [str(trade["id"])]
    [fill] = order.fills.all()
    assert (fill.strategy_id, fill.quantity) == (strategy.pk, D("0.002"))
