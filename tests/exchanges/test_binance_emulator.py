"""The emulator itself, over plain HTTP: the authentication, timing and rate-limit rules
the connector tests rely on, and its fault injection and recording."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
import requests

from tests.binance_emulator import sign


def signed(emulator, method: str, path: str, params: dict, *, key=None, secret=None, ts=None):
    query = urlencode({**params, "timestamp": ts or emulator.now_ms(), "recvWindow": 5000})
    query += "&signature=" + sign(secret or emulator.api_secret, query)
    headers = {"X-MBX-APIKEY": key or emulator.api_key}
    if method == "POST":
        return requests.post(
            emulator.url + path,
            data=query,
            headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
            timeout=5,
        )
    return requests.request(method, f"{emulator.url}{path}?{query}", headers=headers, timeout=5)


def test_signed_endpoints_check_key_signature_and_timestamp(binance_emulator):
    path = "/fapi/v3/account"
    no_key = requests.get(f"{binance_emulator.url}{path}?timestamp=1&signature=x", timeout=5)
    assert (no_key.status_code, no_key.json()["code"]) == (401, -2014)
    assert signed(binance_emulator, "GET", path, {}, key="wrong").json()["code"] == -2015
    assert signed(binance_emulator, "GET", path, {}, secret="wrong").json()["code"] == -1022
    old = signed(binance_emulator, "GET", path, {}, ts=binance_emulator.now_ms() - 6000)
    assert (old.status_code, old.json()["code"]) == (400, -1021)
    ahead = signed(binance_emulator, "GET", path, {}, ts=binance_emulator.now_ms() + 1500)
    assert "ahead" in ahead.json()["msg"]
    assert signed(binance_emulator, "GET", path, {}).status_code == 200


def test_shifting_the_clock_moves_server_time_and_the_timestamp_check(binance_emulator):
    binance_emulator.shift_clock(10_000)
    server = requests.get(f"{binance_emulator.url}/fapi/v1/time", timeout=5).json()["serverTime"]
    assert abs(server - (time.time() * 1000 + 10_000)) < 500
    late = signed(binance_emulator, "GET", "/fapi/v3/account", {}, ts=int(time.time() * 1000))
    assert late.json()["code"] == -1021


def test_every_answer_carries_the_used_weight_and_unknown_paths_are_404(binance_emulator):
    first = requests.get(f"{binance_emulator.url}/fapi/v1/ticker/bookTicker", timeout=5)
    second = requests.get(f"{binance_emulator.url}/fapi/v1/nothing", timeout=5)
    assert first.headers["X-MBX-USED-WEIGHT-1M"] == "5"  # all symbols: weight 5
    assert second.status_code == 404
    assert second.headers["X-MBX-USED-WEIGHT-1M"] == "6"


def test_orders_enforce_filters_duplicates_and_carry_order_counts(binance_emulator):
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.010",
             "price": "60000.0", "timeInForce": "GTC", "newClientOrderId": "dup-1"}  # fmt: skip
    placed = signed(binance_emulator, "POST", "/fapi/v1/order", order)
    assert placed.status_code == 200 and "X-MBX-ORDER-COUNT-1M" in placed.headers
    assert "time" not in placed.json()
    duplicate = signed(binance_emulator, "POST", "/fapi/v1/order", order)
    assert duplicate.json()["code"] == -4116
    off_tick = signed(binance_emulator, "POST", "/fapi/v1/order", {**order, "price": "60000.05", "newClientOrderId": "t"})  # fmt: skip
    assert off_tick.json() == {"code": -1013, "msg": "Filter failure: PRICE_FILTER"}
    too_precise = signed(binance_emulator, "POST", "/fapi/v1/order", {**order, "price": "60000.001", "newClientOrderId": "p"})  # fmt: skip
    assert too_precise.json()["code"] == -1111
    small = signed(binance_emulator, "POST", "/fapi/v1/order", {**order, "quantity": "0.001", "newClientOrderId": "s"})  # fmt: skip
    assert small.json()["code"] == -4164
    assert len(binance_emulator.orders_with_client_id("dup-1")) == 1


def test_faults_answer_instead_and_are_used_up(binance_emulator):
    path = "/fapi/v1/ticker/bookTicker"
    binance_emulator.fail("GET", path, status=503, body="<html>busy</html>", headers={"X-Test": "1"}, times=2)  # fmt: skip
    binance_emulator.reject("GET", path, code=-1003, msg="Too many requests.", status=429)
    answers = [requests.get(binance_emulator.url + path, timeout=5) for _ in range(4)]
    assert [a.status_code for a in answers] == [503, 503, 429, 200]
    assert answers[0].text == "<html>busy</html>" and answers[0].headers["X-Test"] == "1"
    assert [r.fault for r in binance_emulator.received("GET", path)] == [
        "status",
        "status",
        "status",
        None,
    ]


def test_dropped_answer_closes_the_connection_after_the_order_is_placed(binance_emulator):
    binance_emulator.drop("POST", "/fapi/v1/order")
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.010",
             "newClientOrderId": "lost-1"}  # fmt: skip
    with pytest.raises(requests.ConnectionError):
        signed(binance_emulator, "POST", "/fapi/v1/order", order)
    [placed] = binance_emulator.orders_with_client_id("lost-1")
    assert placed["status"] == "FILLED"
    assert binance_emulator.received("POST", "/fapi/v1/order")[0].status is None
