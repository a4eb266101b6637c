"""The trading loop as it runs for real: `runtrader` processes (killed, stopped, once),
a Celery worker on the Redis broker, and the per-symbol lock."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
from decimal import Decimal as D
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from tests.conftest import trader_env, wait_for
from tests.factories import StrategyConfigFactory
from trading.locks import LockBusy, symbol_lock
from trading.models import (
    Fill,
    Order,
    OrderStatus,
    Position,
    StrategyConfig,
    StrategyStatus,
    TraderHeartbeat,
)

ROOT = Path(__file__).resolve().parents[2]
ORDER_PATH = "/fapi/v1/order"

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def one_slice_twap(quantity="0.002") -> StrategyConfig:
    return StrategyConfigFactory(
        name="crash-twap",
        kind="twap",
        symbol="BTCUSDT",
        params={"side": "BUY", "total_quantity": quantity, "slices": 1, "interval_seconds": 60},
    )


def test_trader_killed_between_submission_and_recording_recovers_exactly_one_order(
    binance_emulator,
):
    binance_emulator.set_book("BTCUSDT", "65000.0", "65000.1")
    strategy = one_slice_twap()
    env = trader_env(
        EXCHANGE="binance",
        EXCHANGE_API_KEY=binance_emulator.api_key,
        EXCHANGE_API_SECRET=binance_emulator.api_secret,
        EXCHANGE_BASE_URL=binance_emulator.url,
        EXCHANGE_TIMEOUT_SECONDS="30",
    )
    # The exchange takes the order, then sits on the answer: the trader is killed while
    # it waits, with the order on the exchange and only "submitting" in its record.
    binance_emulator.delay("POST", ORDER_PATH, seconds=60, process=True)
    command = [sys.executable, "manage.py", "runtrader", "--once", "--symbols", "BTCUSDT"]
    first = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        wait_for(
            lambda: binance_emulator.received("POST", ORDER_PATH),
            60,
            "the order to reach the exchange",
        )
        order = Order.objects.get(strategy=strategy)
        assert order.status == OrderStatus.SUBMITTING
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    binance_emulator.clear_faults()

    second = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stdout + second.stderr

    assert len(binance_emulator.received("POST", ORDER_PATH)) == 1
    assert len(binance_emulator.orders_with_client_id(order.client_order_id)) == 1
    orders = Order.objects.filter(strategy=strategy)
    assert orders.count() == 1
    order = orders.get()
    assert (order.status, order.filled_quantity) == (OrderStatus.FILLED, D("0.002"))
    assert [a.outcome for a in order.attempts.order_by("number")][-1] == "found"
    assert Fill.objects.filter(order=order).count() == 1
    position = Position.objects.get(exchange="binance", symbol="BTCUSDT")
    assert (position.quantity, position.entry_price) == (D("0.002"), D("65000.1"))
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.FINISHED, second.stdout + second.stderr
    assert "1 orders resolved" in second.stdout


def test_runtrader_ticks_until_sigterm_and_stops_cleanly():
    one_slice_twap()
    trader = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "runtrader",
            "--exchange",
            "paper",
            "--interval",
            "0.5",
            "--duration",
            "60",
        ],
        cwd=ROOT,
        env=trader_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(
            lambda: Order.objects.filter(status=OrderStatus.FILLED).exists(), 60, "a filled order"
        )
        wait_for(
            lambda: TraderHeartbeat.objects.filter(symbol="BTCUSDT", tick_count__gte=3).exists(),
            30,
            "ticks",
        )
        trader.send_signal(signal.SIGTERM)
        output, _ = trader.communicate(timeout=20)
    finally:
        if trader.poll() is None:
            trader.kill()
    assert trader.returncode == 0
    assert "received SIGTERM; stopping after the current tick" in output
    assert "trader stopped after" in output
    assert "BTCUSDT tick: BUY 0.002" in output


def test_runtrader_once_applies_futures_defaults_and_reports_each_symbol(settings):
    settings.TRADING_SYMBOLS = ["BTCUSDT", "ETHUSDT"]
    out = io.StringIO()
    call_command("runtrader", "--once", "--exchange", "paper", stdout=out)
    text = out.getvalue()
    assert "reconciliation at start:" in text
    assert "BTCUSDT: mid" in text and "ETHUSDT: mid" in text
    from trading.models import FuturesSettings

    applied = FuturesSettings.objects.get(symbol="BTCUSDT")
    assert (applied.leverage, applied.margin_mode, applied.hedge_mode) == (
        settings.LEVERAGE,
        "isolated" if settings.ISOLATED else "cross",
        settings.HEDGE,
    )


def test_a_celery_worker_ticks_over_the_redis_broker_and_skips_a_locked_symbol():
    from trading.tasks import tick

    strategy = one_slice_twap()
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "xquant",
            "worker",
            "--pool=solo",
            "--without-gossip",
            "--without-mingle",
            "--hostname=tick-test@%h",
            "-l",
            "INFO",
        ],
        cwd=ROOT,
        env=trader_env(EXCHANGE="paper"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(iter(worker.stdout.readline, "")), daemon=True
    )
    reader.start()
    try:
        from xquant.celery import app

        wait_for(lambda: app.control.ping(timeout=0.5), 60, "the worker to come up")
        # While another tick holds the symbol, the worker's tick is skipped, not queued.
        with symbol_lock("BTCUSDT"):
            tick.delay("BTCUSDT")
            wait_for(
                lambda: any("this one is skipped" in line for line in lines), 60, "the skipped tick"
            )
            assert not Order.objects.filter(strategy=strategy).exists()
        tick.delay("BTCUSDT")
        order = wait_for(
            lambda: Order.objects.filter(strategy=strategy, status=OrderStatus.FILLED).first(),
            60,
            "the worker to tick and the submit task to fill the order",
        )
        assert order.attempts.filter(action="submit", outcome="accepted").count() == 1
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        reader.join(timeout=10)
    output = "".join(lines)
    assert "previous tick still running; this one is skipped" in output
    assert "trading.submit_order" in output


@pytest.mark.django_db
def test_symbol_lock_admits_one_holder_at_a_time():
    with symbol_lock("ETHUSDT"):
        with pytest.raises(LockBusy), symbol_lock("ETHUSDT"):
            pass
        with symbol_lock("BTCUSDT"):  # another symbol is free
            pass
    with symbol_lock("ETHUSDT"):  # released
        pass


@pytest.mark.django_db
def test_a_lock_left_by_a_dead_process_on_this_host_is_taken_over_at_once():
    import socket

    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    name = "xquant:tick-lock:SOLUSDT"
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        client.set(name, f"{socket.gethostname()}|{sleeper.pid}|live", px=60_000)
        with pytest.raises(LockBusy), symbol_lock("SOLUSDT"):  # its holder still runs
            pass
    finally:
        sleeper.kill()
        sleeper.wait()
    client.set(name, f"{socket.gethostname()}|{sleeper.pid}|dead", px=60_000)
    with symbol_lock("SOLUSDT"):
        assert client.get(name).decode().startswith(f"{socket.gethostname()}|{os.getpid()}|")
    client.set(name, f"another-host|{sleeper.pid}|elsewhere", px=60_000)
    with pytest.raises(LockBusy), symbol_lock("SOLUSDT"):  # a holder elsewhere waits for expiry
        pass
    client.delete(name)


def test_a_round_checks_the_database_connection_once_and_again_after_a_failed_tick(
    paper, monkeypatch
):
    from django.db import connections

    from trading.services.trader import Trader

    trader = Trader(exchange=paper, symbols=["BTCUSDT", "ETHUSDT", "SOLUSDT"], interval=1)
    db = connections["default"]
    db.ensure_connection()
    checks = []
    # Without the pool Django checks the connection (CONN_HEALTH_CHECKS); with it, the
    # pool checks each connection a thread takes from it (getconn).
    is_usable = db.is_usable
    monkeypatch.setattr(db, "is_usable", lambda: checks.append(1) or is_usable())
    if db.pool is not None:
        getconn = db.pool.getconn
        monkeypatch.setattr(
            db.pool, "getconn", lambda *a, **k: checks.append(1) or getconn(*a, **k)
        )
    trader.run_round()
    assert len(checks) == 1  # not one per symbol

    tick = trader.tick

    def tick_failing_after_its_queries(symbol):
        result = tick(symbol)
        if symbol == "BTCUSDT":
            raise RuntimeError("boom")
        return result

    monkeypatch.setattr(trader, "tick", tick_failing_after_its_queries)
    checks.clear()
    results = trader.run_round()
    assert [r.symbol for r in results] == ["ETHUSDT", "SOLUSDT"]
    assert len(checks) == 2  # the round's, and the one after the failure
