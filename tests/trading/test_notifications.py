"""Notifications reach an apprise json:// target on 127.0.0.1 from the places where the
events happen: one message per event, a burst as one digest, a failing target retried
then given up, and trading never waiting for any of it."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from exchanges.base import ExchangeOrder, OrderState
from exchanges.base import Fill as ExchangeFill
from tests.conftest import ROOT, trader_env, wait_for
from tests.factories import FillFactory, OrderFactory, StrategyConfigFactory
from tests.notify_receiver import Receiver
from trading.models import Fill, OrderSource, OrderStatus, TraderHeartbeat
from trading.notifications.models import EventKind, NotificationTarget
from trading.notifications.runner import close_connections, wait_idle
from trading.notifications.services import daily_summary_notice, trader_stale_check
from trading.services.fills import fills_record
from trading.services.orders import (
    RetryPolicy,
    SendNow,
    order_apply_state,
    order_create,
    order_submit,
)
from trading.services.reconciliation import reconcile
from trading.services.risk import kill_switch_engage, kill_switch_release, risk_state_get
from trading.services.schedules import schedules_sync
from trading.services.strategy_manager import StrategyManager
from trading.services.tick import tick_run
from trading.strategies.base import OrderIntent
from xquant.celery import app as celery_app

pytestmark = pytest.mark.django_db(transaction=True)

ALL_KINDS = [k.value for k in EventKind]
SECRET_URL_PART = "hunter2-very-secret"


@pytest.fixture
def embedded(settings):
    """Embedded mode (Celery eager): the background thread does the sending."""
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    settings.NOTIFY_GATHER_SECONDS = 0.3
    settings.NOTIFY_RETRY_SECONDS = 0.05
    settings.NOTIFY_RETRIES = 2
    yield
    try:
        assert wait_idle(10.0), "notification work still running at the end of the test"
    finally:
        close_connections()
        celery_app.conf.task_always_eager = eager


@pytest.fixture
def receiver():
    with Receiver() as receiver:
        yield receiver


def target(receiver, kinds=None, **fields) -> NotificationTarget:
    return NotificationTarget.objects.create(
        name=fields.pop("name", "desk"),
        url=receiver.url,
        kinds=ALL_KINDS if kinds is None else kinds,
        min_interval_seconds=fields.pop("min_interval_seconds", 0),
        **fields,
    )


def settled(receiver, count: int) -> list[dict]:
    """The messages, once `count` arrived and nothing else is on its way."""
    wait_for(lambda: len(receiver.messages) >= count, 10, f"{count} message(s)")
    assert wait_idle(10.0)
    return receiver.messages


def trade(trade_id: int, *, quantity: str = "0.010") -> ExchangeFill:
    return ExchangeFill(
        symbol="BTCUSDT",
        trade_id=str(trade_id),
        exchange_order_id="777",
        side="BUY",
        price=D("65000"),
        quantity=D(quantity),
        fee=D("0.26"),
        fee_asset="USDT",
        executed_at=timezone.now(),
    )


def test_a_fill_sends_one_message_with_what_was_traded(embedded, receiver):
    target(receiver, kinds=[EventKind.FILL])
    target(receiver, kinds=[EventKind.KILL_SWITCH], name="risk desk")
    order = OrderFactory(strategy=StrategyConfigFactory(), exchange_order_id="777")

    fills_record(order=order, fills=[trade(1)])

    (message,) = settled(receiver, 1)
    assert message["title"] == "Fill: BUY 0.01 BTCUSDT @ 65000"
    assert order.client_order_id in message["message"]
    assert "fee 0.26 USDT" in message["message"]


def test_fifty_fills_within_a_second_make_one_digest(embedded, receiver, settings):
    # A storm is whatever lands in one gathering window; the window is wide enough
    # that recording 50 fills fits in it on a loaded machine too.
    settings.NOTIFY_GATHER_SECONDS = 4.0
    target(receiver, kinds=[EventKind.FILL])
    order = OrderFactory(exchange_order_id="777", quantity=D("1"))

    started = time.monotonic()
    for n in range(1, 51):
        fills_record(order=order, fills=[trade(n, quantity="0.001")])
    assert time.monotonic() - started < 4.0, "the fills took too long for one digest window"

    (message,) = settled(receiver, 1)
    assert message["title"] == "xQuant: 50 notifications (50 × Fill)"
    assert message["message"].count("- Fill: BUY 0.001 BTCUSDT @ 65000") == 20
    assert message["message"].endswith("… and 30 more")
    time.sleep(0.5)
    assert len(receiver.messages) == 1


def test_a_risk_guard_trip_sends_one_message_with_the_guard_and_reason(embedded, receiver, paper):
    target(receiver, kinds=[EventKind.RISK_TRIPPED, EventKind.FILL])
    intent = OrderIntent(key="", symbol="BTCUSDT", side="BUY", quantity=D("1"))

    order = order_create(
        intent=intent,
        exchange=paper,
        source=OrderSource.API,
        risk_state=risk_state_get(exchange_name=paper.name),
        reference_price=D("65000"),
    )

    assert order.status == OrderStatus.REJECTED
    (message,) = settled(receiver, 1)
    assert message["title"] == "Risk guard max_order_notional refused BUY 1 BTCUSDT"
    assert "65000" in message["message"] and "10000" in message["message"]


def test_engaging_and_releasing_the_kill_switch_send_one_message_each(embedded, receiver, paper):
    target(receiver, kinds=[EventKind.KILL_SWITCH])

    kill_switch_engage(reason="desk halt for the test", exchange=paper)
    (engaged,) = settled(receiver, 1)
    kill_switch_release(reason="back to work")
    _, released = settled(receiver, 2)

    assert engaged["title"] == "KILL SWITCH ENGAGED"
    assert engaged["message"].startswith("desk halt for the test; 0 open order(s) cancelled")
    assert (released["title"], released["message"]) == ("Kill switch released", "back to work")


def test_a_stale_trader_sends_one_message_until_it_ticks_again(embedded, receiver, settings):
    settings.TRADING_SYMBOLS = ["BTCUSDT"]
    target(receiver, kinds=[EventKind.TRADER_STALE])
    beat = TraderHeartbeat.objects.create(
        symbol="BTCUSDT", last_tick_at=timezone.now() - timedelta(minutes=5), last_tick_ms=D("3")
    )

    assert trader_stale_check() == ["BTCUSDT"]
    assert trader_stale_check() == []
    (message,) = settled(receiver, 1)
    assert message["title"] == "Trader stale: no tick for BTCUSDT"
    assert "no tick within 30 s" in message["message"]

    beat.last_tick_at = timezone.now()
    beat.save()
    assert trader_stale_check() == []
    beat.last_tick_at = timezone.now() - timedelta(minutes=5)
    beat.save()
    assert trader_stale_check() == ["BTCUSDT"]
    assert len(settled(receiver, 2)) == 2


def test_an_exchange_rejection_sends_its_code_and_message(
    embedded, receiver, binance_exchange, binance_emulator
):
    target(receiver, kinds=[EventKind.ORDER_REJECTED])
    binance_emulator.set_book("BTCUSDT", "65000.0", "65000.1")
    binance_emulator.reject("POST", "/fapi/v1/order", code=-2019, msg="Margin is insufficient.")
    intent = OrderIntent(key="", symbol="BTCUSDT", side="BUY", quantity=D("0.002"))
    order = order_create(
        intent=intent,
        exchange=binance_exchange,
        source=OrderSource.API,
        risk_state=risk_state_get(exchange_name=binance_exchange.name),
        reference_price=D("65000.05"),
    )

    order = order_submit(
        order=order, exchange=binance_exchange, policy=RetryPolicy(base_delay=0.01)
    )

    assert order.status == OrderStatus.REJECTED
    (message,) = settled(receiver, 1)
    assert message["title"] == "Order rejected: BUY 0.002 BTCUSDT"
    assert order.client_order_id in message["message"]
    assert "[-2019]" in message["message"] and "Margin is insufficient." in message["message"]


def test_a_target_answering_500_is_retried_then_given_up_while_trading_goes_on(
    embedded, receiver, caplog
):
    receiver.status = 500
    receiver.delay = 0.3
    desk = target(receiver, kinds=[EventKind.FILL])
    desk.url = receiver.url.replace("json://", f"json://desk:{SECRET_URL_PART}@")
    desk.save()
    order = OrderFactory(exchange_order_id="777")

    started = time.monotonic()
    rows = fills_record(order=order, fills=[trade(1)])
    assert time.monotonic() - started < 0.3, "recording a fill waited for the target"

    assert Fill.objects.filter(pk=rows[0].pk).exists()
    wait_for(lambda: NotificationTarget.objects.get(pk=desk.pk).last_error, 10, "giving up")
    assert wait_idle(10.0)
    assert receiver.requests == 3  # the first attempt and NOTIFY_RETRIES=2 retries
    assert "gave up" in NotificationTarget.objects.get(pk=desk.pk).last_error
    assert receiver.messages == []
    assert "notification target desk: gave up after 3 attempt(s)" in caplog.text
    assert SECRET_URL_PART not in caplog.text


def test_a_target_sends_again_only_after_its_minimum_interval(embedded, receiver, paper):
    target(receiver, kinds=[EventKind.KILL_SWITCH], min_interval_seconds=2)

    kill_switch_engage(reason="first", exchange=paper)
    settled(receiver, 1)
    sent_first = time.monotonic()
    kill_switch_release(reason="second")
    settled(receiver, 2)

    assert time.monotonic() - sent_first >= 1.5
    assert receiver.messages[1]["title"] == "Kill switch released"


def test_the_daily_summary_adds_up_the_day_that_ended_by_symbol_and_strategy(settings):
    now = timezone.now().replace(hour=0, minute=30, second=0, microsecond=0)
    yesterday = now - timedelta(hours=12)
    twap = StrategyConfigFactory(name="twap-btc")
    order = OrderFactory(strategy=twap)
    for pnl, fee in (("12.50", "0.50"), ("-2.50", "0.25")):
        FillFactory(
            order=order,
            strategy=twap,
            realized_pnl=D(pnl),
            fee=D(fee),
            executed_at=yesterday,
        )
    FillFactory(order=order, strategy=twap, realized_pnl=D("999"), executed_at=now)

    notice = daily_summary_notice(now=now)

    assert notice.kind == EventKind.DAILY_SUMMARY
    assert "net PnL 9.25 over 2 trade(s)" in notice.title
    assert notice.body == (
        "- BTCUSDT twap-btc: 2 trade(s), realised PnL 10.00, fees 0.75, net 9.25"
    )


def test_the_admin_never_shows_a_saved_url_again_and_keeps_it_when_left_empty(staff_client):
    add = staff_client.post(
        "/admin/notifications/notificationtarget/add/",
        {
            "name": "webhook",
            "url": f"json://desk:{SECRET_URL_PART}@127.0.0.1:9/hook",
            "kinds": [EventKind.FILL, EventKind.KILL_SWITCH],
            "enabled": "on",
            "min_interval_seconds": "30",
        },
    )
    assert add.status_code == 302
    saved = NotificationTarget.objects.get(name="webhook")
    assert saved.kinds == [EventKind.FILL, EventKind.KILL_SWITCH]

    for page in (
        "/admin/notifications/notificationtarget/",
        f"/admin/notifications/notificationtarget/{saved.pk}/change/",
    ):
        html = staff_client.get(page).content.decode()
        assert SECRET_URL_PART not in html
        assert "json://desk:****@127.0.0.1:9/hook" in html

    staff_client.post(
        f"/admin/notifications/notificationtarget/{saved.pk}/change/",
        {"name": "webhook", "url": "", "kinds": [EventKind.FILL], "min_interval_seconds": "5"},
    )
    saved.refresh_from_db()
    assert saved.url == f"json://desk:{SECRET_URL_PART}@127.0.0.1:9/hook"
    assert (saved.kinds, saved.enabled, saved.min_interval_seconds) == ([EventKind.FILL], False, 5)


def test_the_admin_refuses_what_is_not_an_apprise_url_without_echoing_it(staff_client):
    response = staff_client.post(
        "/admin/notifications/notificationtarget/add/",
        {"name": "bad", "url": f"nonsense://{SECRET_URL_PART}", "min_interval_seconds": "30"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "not an apprise URL" in html
    assert SECRET_URL_PART not in html
    assert not NotificationTarget.objects.exists()


def test_the_admin_action_sends_a_test_message_from_the_background(
    embedded, receiver, staff_client
):
    desk = target(receiver, kinds=[])

    response = staff_client.post(
        "/admin/notifications/notificationtarget/",
        {"action": "send_test_message", "_selected_action": [desk.pk]},
    )

    assert response.status_code == 302
    (message,) = settled(receiver, 1)
    assert message["title"] == "xQuant test message"
    assert message["message"] == "Target desk is reachable."


@pytest.mark.slow
def test_with_a_broker_a_celery_worker_dispatches_gathers_and_sends(receiver):
    """Production's path: the fill's commit queues a task on Redis; a real worker on the
    test database stores, gathers and sends it."""
    assert celery_app.conf.task_always_eager is False
    celery_app.control.purge()  # tasks other tests queued with no worker to run them
    target(receiver, kinds=[EventKind.FILL])
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "xquant",
            "worker",
            "--pool=solo",
            "--hostname=notify-test@%h",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "WARNING",
        ],
        env=trader_env(NOTIFY_GATHER_SECONDS="0.3"),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    try:
        order = OrderFactory(exchange_order_id="777")
        fills_record(order=order, fills=[trade(1), trade(2)])

        wait_for(lambda: receiver.messages, 60, "the worker's message")
        time.sleep(1.0)
        (message,) = receiver.messages
        assert message["title"] == "xQuant: 2 notifications (2 × Fill)"
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def test_beat_checks_for_a_stale_trader_and_sends_the_daily_summary(settings):
    settings.RISK_DAY_RESET_HOUR_UTC = 6
    PeriodicTask.objects.filter(name__startswith="notify:").delete()  # made by migrate
    schedules_sync(symbols=["BTCUSDT"], tick_seconds=5)

    stale = PeriodicTask.objects.get(task="notifications.check_stale")
    summary = PeriodicTask.objects.get(task="notifications.daily_summary")
    assert (stale.interval.every, stale.interval.period) == (30, "seconds")
    assert (summary.crontab.hour, summary.crontab.minute) == ("6", "1")


def test_a_strategy_that_errors_sends_one_message_naming_it_and_why(embedded, receiver, paper):
    target(receiver, kinds=[EventKind.STRATEGY_ERRORED])
    # 0.0015 is off BTCUSDT's 0.001 step: the strategy refuses to build.
    StrategyConfigFactory(
        name="broken",
        kind="technical",
        symbol="BTCUSDT",
        params={"signal": "ma_cross", "quantity": "0.0015", "fast_period": 2, "slow_period": 3},
    )
    manager = StrategyManager(paper)

    tick_run(symbol="BTCUSDT", exchange=paper, manager=manager, submit=SendNow(paper))
    tick_run(symbol="BTCUSDT", exchange=paper, manager=manager, submit=SendNow(paper))

    (message,) = settled(receiver, 1)
    assert message["title"] == "Strategy broken errored and is halted"
    assert message["message"].startswith("technical on BTCUSDT: ")
    assert "0.001" in message["message"]


def test_reconciliation_that_needs_attention_sends_one_message_per_new_issue(
    embedded, receiver, binance_exchange, binance_emulator
):
    target(receiver, kinds=[EventKind.RECONCILE_ATTENTION])
    binance_emulator.fail("GET", "/fapi/v1/openOrders", status=503, body="down", times=100)

    for _ in range(2):
        report = reconcile(exchange=binance_exchange, symbols=["BTCUSDT"])
        assert report.errors

    (message,) = settled(receiver, 1)
    assert message["title"] == "Reconciliation needs attention: BTCUSDT"
    assert message["message"].startswith("binance: ")


def test_an_order_the_exchange_reports_rejected_on_a_lookup_sends_one_message(
    embedded, receiver, paper
):
    target(receiver, kinds=[EventKind.ORDER_REJECTED])
    order = OrderFactory(status=OrderStatus.SUBMITTING, exchange_order_id="4242")
    report = ExchangeOrder(
        symbol="BTCUSDT",
        client_order_id=order.client_order_id,
        exchange_order_id="4242",
        status=OrderState.REJECTED,
        side=order.side,
        order_type=order.order_type,
        quantity=order.quantity,
        filled_quantity=D("0"),
    )

    order_apply_state(order=order, state=report, exchange=paper)
    order_apply_state(order=order, state=report, exchange=paper)  # heard twice

    assert order.status == OrderStatus.REJECTED
    (message,) = settled(receiver, 1)
    assert message["title"].startswith("Order rejected: BUY")
    assert "[exchange.rejected] the exchange rejected the order" in message["message"]
