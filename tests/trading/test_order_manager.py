"""The order manager against the Binance emulator's fault injection: whatever fails and
whenever, one order becomes exactly one exchange order, and its final status is right."""

from __future__ import annotations

import threading
import time
from decimal import Decimal as D

import pytest
from django.db import connection

from trading.models import AttemptOutcome, Fill, Order, OrderSource, OrderStatus, Position
from trading.services.orders import RetryPolicy, order_create, order_submit
from trading.services.risk import risk_state_get
from trading.strategies.base import OrderIntent

ORDER_PATH = "/fapi/v1/order"
FAST = RetryPolicy(base_delay=0.01, max_delay=0.05)


@pytest.fixture
def exchange(binance_exchange, binance_emulator):
    binance_emulator.set_book("BTCUSDT", "65000.0", "65000.1")
    # The real connector waits recvWindow + 1 s before trusting "no such order"; the
    # emulator never executes a request late, so the tests shorten the wait.
    binance_exchange.request_expiry_seconds = 0.2
    return binance_exchange


class Sleeps(list):
    """Records requested waits; really waits only when asked to (rate limits)."""

    def __init__(self, real: bool = False):
        super().__init__()
        self.real = real

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        if self.real:
            time.sleep(seconds)


def new_order(exchange, *, quantity="0.002", order_type="MARKET", price=None, side="BUY") -> Order:
    intent = OrderIntent(
        key="",
        symbol="BTCUSDT",
        side=side,
        quantity=D(quantity),
        order_type=order_type,
        price=D(price) if price else None,
    )
    return order_create(
        intent=intent,
        exchange=exchange,
        source=OrderSource.API,
        risk_state=risk_state_get(exchange_name=exchange.name),
        reference_price=D("65000.05"),
    )


def submit(order, exchange, sleep=None, policy=FAST) -> Order:
    return order_submit(
        order=order, exchange=exchange, policy=policy, sleep=Sleeps() if sleep is None else sleep
    )


def outcomes(order) -> list[tuple[str, str]]:
    return list(order.attempts.order_by("number").values_list("action", "outcome"))


def exchange_orders(emulator, order) -> list[dict]:
    return emulator.orders_with_client_id(order.client_order_id)


pytestmark = pytest.mark.django_db


def test_a_clean_submission_fills_and_moves_the_position(exchange, binance_emulator):
    order = submit(new_order(exchange), exchange)
    assert order.status == OrderStatus.FILLED
    assert order.filled_quantity == D("0.002")
    assert order.average_price == D("65000.1")
    assert len(exchange_orders(binance_emulator, order)) == 1
    assert outcomes(order) == [("submit", "accepted")]
    fill = Fill.objects.get(order=order)
    assert (fill.side, fill.quantity, fill.price) == ("BUY", D("0.002"), D("65000.1"))
    position = Position.objects.get(exchange="binance", symbol="BTCUSDT")
    assert (position.quantity, position.entry_price) == (D("0.002"), D("65000.1"))


def test_dropped_response_after_acceptance_is_found_by_lookup_and_never_resent(
    exchange, binance_emulator
):
    binance_emulator.drop("POST", ORDER_PATH, process=True)
    exchange.request_expiry_seconds = 6.0  # as with recvWindow 5000 ms (the sleep is recorded)
    sleeps = Sleeps()
    order = submit(new_order(exchange), exchange, sleep=sleeps)
    assert order.status == OrderStatus.FILLED
    assert len(exchange_orders(binance_emulator, order)) == 1
    assert len(binance_emulator.received("POST", ORDER_PATH)) == 1
    assert outcomes(order) == [("submit", "unknown"), ("lookup", "found")]
    # It waited until the request could no longer execute before trusting a lookup.
    assert 4.0 < sleeps[0] <= 6.0
    assert Fill.objects.filter(order=order).count() == 1


def test_5xx_before_the_order_took_effect_is_sent_again_after_a_definite_not_found(
    exchange, binance_emulator
):
    binance_emulator.fail(
        "POST", ORDER_PATH, status=503, body="<html>Service Unavailable</html>", process=False
    )
    order = submit(new_order(exchange), exchange)
    assert order.status == OrderStatus.FILLED
    assert len(exchange_orders(binance_emulator, order)) == 1
    assert len(binance_emulator.received("POST", ORDER_PATH)) == 2
    assert outcomes(order) == [
        ("submit", "unknown"),
        ("lookup", "not_found"),
        ("submit", "accepted"),
    ]


def test_5xx_after_the_order_took_effect_is_not_sent_again(exchange, binance_emulator):
    binance_emulator.fail(
        "POST", ORDER_PATH, status=502, body="<html>Bad Gateway</html>", process=True
    )
    order = submit(new_order(exchange), exchange)
    assert order.status == OrderStatus.FILLED
    assert len(exchange_orders(binance_emulator, order)) == 1
    assert len(binance_emulator.received("POST", ORDER_PATH)) == 1


def test_an_answer_slower_than_the_timeout_is_looked_up_not_resent(exchange, binance_emulator):
    binance_emulator.delay("POST", ORDER_PATH, seconds=2.5, process=True)
    order = submit(new_order(exchange), exchange)
    assert order.status == OrderStatus.FILLED
    assert len(exchange_orders(binance_emulator, order)) == 1
    assert outcomes(order)[:2] == [("submit", "unknown"), ("lookup", "found")]


def test_429_then_418_backs_off_as_told_and_sends_once(exchange, binance_emulator):
    limited = {
        "code": -1003,
        "msg": "Too many requests; please use the websocket for live updates.",
    }
    binance_emulator.fail(
        "POST", ORDER_PATH, status=429, body=limited, headers={"Retry-After": "1"}
    )
    binance_emulator.fail(
        "POST", ORDER_PATH, status=418, body=limited, headers={"Retry-After": "1"}
    )
    sleeps = Sleeps(real=True)
    order = submit(new_order(exchange), exchange, sleep=sleeps)
    assert order.status == OrderStatus.FILLED
    assert len(exchange_orders(binance_emulator, order)) == 1
    assert outcomes(order) == [
        ("submit", "rate_limited"),
        ("submit", "rate_limited"),
        ("submit", "accepted"),
    ]
    assert all(wait >= 1.0 for wait in sleeps[:2])
    first = order.attempts.get(number=1)
    assert (first.error_code, first.retry_after) == ("-1003", D("1.000"))


def test_a_long_ban_gives_the_order_up_as_not_sent(exchange, binance_emulator):
    limited = {"code": -1003, "msg": "Way too many requests; IP banned until later."}
    binance_emulator.fail(
        "POST", ORDER_PATH, status=418, body=limited, headers={"Retry-After": "600"}
    )
    order = submit(new_order(exchange), exchange)
    assert order.status == OrderStatus.REJECTED
    assert order.error_code == "-1003"
    assert "not sent: the exchange asks to wait 600 s" in order.error_message
    assert exchange_orders(binance_emulator, order) == []


def test_clock_drift_syncs_the_time_and_sends_again(exchange, binance_emulator):
    exchange.fetch_balance()  # the clock is measured before the first signed request
    binance_emulator.shift_clock(30_000)  # ...and the exchange's jumps after that
    order = submit(new_order(exchange), exchange)
    assert order.status == OrderStatus.FILLED
    assert len(exchange_orders(binance_emulator, order)) == 1
    assert outcomes(order) == [
        ("submit", "time_drift"),
        ("sync_time", "accepted"),
        ("submit", "accepted"),
    ]
    assert order.attempts.get(number=1).error_code == "-1021"


def test_insufficient_margin_is_rejected_with_the_exchange_code_and_no_retry(
    exchange, binance_emulator
):
    binance_emulator.reject("POST", ORDER_PATH, code=-2019, msg="Margin is insufficient.")
    order = submit(new_order(exchange), exchange)
    assert order.status == OrderStatus.REJECTED
    assert order.error_code == "-2019"
    assert "Margin is insufficient." in order.error_message
    assert outcomes(order) == [("submit", AttemptOutcome.INSUFFICIENT_FUNDS)]
    assert exchange_orders(binance_emulator, order) == []


def test_an_exchange_filter_rejection_is_final(exchange, binance_emulator):
    binance_emulator.reject(
        "POST", ORDER_PATH, code=-4164, msg="Order's notional must be no smaller than 100."
    )
    order = submit(new_order(exchange), exchange)
    assert (order.status, order.error_code) == (OrderStatus.REJECTED, "-4164")
    assert len(binance_emulator.received("POST", ORDER_PATH)) == 1


def test_a_quantity_below_the_minimum_is_refused_locally_without_a_request(
    exchange, binance_emulator
):
    order = new_order(exchange, quantity="0.0004")
    assert order.status == OrderStatus.REJECTED
    assert order.error_code == "local.min_qty"
    assert "below the minimum 0.001 for BTCUSDT" in order.error_message
    assert binance_emulator.received("POST", ORDER_PATH) == []


def test_failing_lookups_leave_the_order_submitting_until_a_later_pass_resolves_it(
    exchange, binance_emulator
):
    binance_emulator.drop("POST", ORDER_PATH, process=True)
    binance_emulator.fail(
        "GET", ORDER_PATH, status=503, body="<html>down</html>", times=FAST.max_lookups
    )
    order = submit(new_order(exchange), exchange)
    assert order.status == OrderStatus.SUBMITTING
    assert [o for _, o in outcomes(order)].count("error") == FAST.max_lookups

    order = submit(order, exchange)  # reconciliation's pass: lookup first, never a blind resend
    assert order.status == OrderStatus.FILLED
    assert len(binance_emulator.received("POST", ORDER_PATH)) == 1
    assert len(exchange_orders(binance_emulator, order)) == 1


def test_a_duplicate_client_order_id_answer_means_our_order_is_there(exchange, binance_emulator):
    order = new_order(exchange, order_type="LIMIT", price="60000")
    # The first send landed (the order rests on the book) but its answer was lost...
    binance_emulator.drop("POST", ORDER_PATH, process=True)
    binance_emulator.fail(
        "GET", ORDER_PATH, status=503, body="<html>down</html>", times=FAST.max_lookups
    )
    order = submit(order, exchange)
    assert order.status == OrderStatus.SUBMITTING
    # ...and a later pass whose lookup says "not found" by mistake would send again: the
    # exchange answers -4116, which the manager reads as "it exists" and looks up.
    binance_emulator.reject("GET", ORDER_PATH, code=-2013, msg="Order does not exist.")
    order = submit(order, exchange)
    assert order.status == OrderStatus.OPEN
    assert len(exchange_orders(binance_emulator, order)) == 1
    assert ("submit", "rejected") in outcomes(order)


def test_unsent_orders_older_than_the_policy_are_cancelled_not_sent(exchange, binance_emulator):
    order = new_order(exchange)
    Order.objects.filter(pk=order.pk).update(created_at=order.created_at.replace(year=2000))
    order.refresh_from_db()  # as reconciliation reads it, after a restart
    order = submit(order, exchange)
    assert order.status == OrderStatus.CANCELED
    assert order.error_code == "not_sent"
    assert binance_emulator.received("POST", ORDER_PATH) == []


@pytest.mark.django_db(transaction=True)
def test_two_processes_submitting_one_order_send_it_once(exchange, binance_emulator):
    order = new_order(exchange)
    binance_emulator.delay("POST", ORDER_PATH, seconds=0.5, process=True)
    results = []

    def worker():
        try:
            results.append(submit(Order.objects.get(pk=order.pk), exchange).status)
        finally:
            connection.close()  # the thread's own connection, or the test database stays in use

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    order.refresh_from_db()
    assert order.status == OrderStatus.FILLED
    assert len(binance_emulator.received("POST", ORDER_PATH)) == 1
    assert len(exchange_orders(binance_emulator, order)) == 1
