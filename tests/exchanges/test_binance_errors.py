"""Every way a Binance call fails becomes one of exchanges.errors, keeping Binance's code;
ccxt's exceptions never come out. Injected answers cover the table; real emulator
behaviour covers margin, unknown orders, auth, clock drift, timeouts and lost answers."""

from __future__ import annotations

from decimal import Decimal

import ccxt
import pytest

from exchanges.base import OrderRequest
from exchanges.binance import BinanceExchange
from exchanges.binance.throttle import LocalWeightStore
from exchanges.errors import (
    ExchangeAuthError,
    ExchangeError,
    ExchangeUnavailableError,
    InsufficientFundsError,
    OrderNotFoundError,
    OrderRejectedError,
    OutcomeUnknownError,
    RateLimitedError,
    TimeDriftError,
)

D = Decimal
ORDER = "/fapi/v1/order"


def buy(cid: str = "err-1", qty: str = "0.01", price: str | None = "60000") -> OrderRequest:
    return OrderRequest(
        "BTCUSDT",
        "BUY",
        "LIMIT" if price else "MARKET",
        D(qty),
        cid,
        price=D(price) if price else None,
    )


def error(code: int, msg: str, status: int = 400) -> dict:
    return {"status": status, "body": {"code": code, "msg": msg}}


CREATE_CASES = [
    pytest.param(error(-1021, "Timestamp for this request is outside of the recvWindow."), TimeDriftError, "-1021", id="-1021"),
    pytest.param(error(-2019, "Margin is insufficient."), InsufficientFundsError, "-2019", id="-2019"),
    pytest.param(error(-2018, "Balance is insufficient."), InsufficientFundsError, "-2018", id="-2018"),
    pytest.param(error(-1022, "Signature for this request is not valid."), ExchangeAuthError, "-1022", id="-1022"),
    pytest.param(error(-2014, "API-key format invalid.", 401), ExchangeAuthError, "-2014", id="-2014"),
    pytest.param(error(-2015, "Invalid API-key, IP, or permissions for action.", 401), ExchangeAuthError, "-2015", id="-2015"),
    pytest.param({"status": 401, "body": "<html>Unauthorized</html>"}, ExchangeAuthError, "401", id="401-html"),
    pytest.param(error(-2013, "Order does not exist."), OrderNotFoundError, "-2013", id="-2013"),
    pytest.param(error(-1013, "Filter failure: LOT_SIZE"), OrderRejectedError, "-1013", id="-1013"),
    pytest.param(error(-4164, "Order's notional must be no smaller than 100 (unless you choose reduce only)."), OrderRejectedError, "-4164", id="-4164"),
    pytest.param(error(-4061, "Order's position side does not match user's setting."), OrderRejectedError, "-4061", id="-4061"),
    pytest.param(error(-2022, "ReduceOnly Order is rejected."), OrderRejectedError, "-2022", id="-2022"),
    pytest.param(error(-4003, "Quantity less than or equal to zero."), OrderRejectedError, "-4003", id="-4003"),
    pytest.param(error(-4116, "ClientOrderId is duplicated."), OrderRejectedError, "-4116", id="-4116"),
    pytest.param(error(-1001, "Internal error; unable to process your request. Please try again.", 503), OutcomeUnknownError, "-1001", id="503-json"),
    pytest.param({"status": 502, "body": "<html>Bad Gateway</html>"}, OutcomeUnknownError, "502", id="502-html"),
    pytest.param({"status": 504, "body": "Gateway Timeout"}, OutcomeUnknownError, "504", id="504"),
    pytest.param(error(-1007, "Timeout waiting for response from backend server.", 408), OutcomeUnknownError, "-1007", id="408-1007"),
    pytest.param({"status": 403, "body": "<html>WAF</html>"}, ExchangeUnavailableError, "403", id="403-waf"),
]  # fmt: skip


@pytest.mark.parametrize(("answer", "expected", "code"), CREATE_CASES)
def test_create_order_failure_maps_to_its_error_type_with_the_exchange_code(
    binance_exchange, binance_emulator, answer, expected, code
):
    binance_exchange.load_markets()
    binance_emulator.fail("POST", ORDER, **answer)
    with pytest.raises(ExchangeError) as raised:
        binance_exchange.create_order(buy())
    assert type(raised.value) is expected
    assert raised.value.exchange_code == code
    assert not isinstance(raised.value, ccxt.BaseError)
    assert raised.value.record_code == code


@pytest.mark.parametrize(
    "answer",
    [
        error(-1001, "Internal error; unable to process your request. Please try again.", 503),
        {"status": 500, "body": "<html>oops</html>"},
        {"status": 504, "body": "Gateway Timeout"},
    ],
)
def test_server_errors_on_reads_are_unavailable_not_unknown(
    binance_exchange, binance_emulator, answer
):
    binance_exchange.load_markets()
    binance_emulator.fail("GET", "/fapi/v1/openOrders", **answer)
    with pytest.raises(ExchangeUnavailableError):
        binance_exchange.fetch_open_orders("BTCUSDT")


def test_5xx_after_the_order_was_placed_is_outcome_unknown_and_the_lookup_finds_it(
    binance_exchange, binance_emulator
):
    binance_exchange.load_markets()
    binance_emulator.fail(
        "POST", ORDER, status=503,
        body={"code": -1000, "msg": "Unknown error, please check your request or try again later."},
        process=True,
    )  # fmt: skip
    with pytest.raises(OutcomeUnknownError) as raised:
        binance_exchange.create_order(buy("unknown-1"))
    assert raised.value.exchange_code == "-1000"
    assert binance_exchange.fetch_order("BTCUSDT", "unknown-1").client_order_id == "unknown-1"


def test_dropped_answer_on_create_is_outcome_unknown_and_exactly_one_order_exists(
    binance_exchange, binance_emulator
):
    binance_exchange.load_markets()
    binance_emulator.drop("POST", ORDER)
    with pytest.raises(OutcomeUnknownError):
        binance_exchange.create_order(buy("dropped-1"))
    assert len(binance_emulator.orders_with_client_id("dropped-1")) == 1
    assert binance_emulator.received("POST", ORDER)[-1].status is None
    # Resending blindly would be refused as a duplicate: the lookup is the way.
    with pytest.raises(OrderRejectedError) as raised:
        binance_exchange.create_order(buy("dropped-1"))
    assert raised.value.exchange_code == "-4116"
    assert binance_exchange.fetch_order("BTCUSDT", "dropped-1").status == "NEW"
    assert len(binance_emulator.orders_with_client_id("dropped-1")) == 1


def test_slow_answer_on_create_times_out_as_outcome_unknown(binance_exchange, binance_emulator):
    binance_exchange.load_markets()
    binance_emulator.delay("POST", ORDER, seconds=2.5)  # the client's timeout is 1 s
    with pytest.raises(OutcomeUnknownError):
        binance_exchange.create_order(buy("slow-1"))
    assert len(binance_emulator.orders_with_client_id("slow-1")) == 1


def test_slow_answer_on_cancel_is_outcome_unknown(binance_exchange, binance_emulator):
    binance_exchange.create_order(buy("slow-cancel"))
    binance_emulator.delay("DELETE", ORDER, seconds=2.5)
    with pytest.raises(OutcomeUnknownError):
        binance_exchange.cancel_order("BTCUSDT", "slow-cancel")
    assert binance_emulator.orders_with_client_id("slow-cancel")[0]["status"] == "CANCELED"


def test_slow_answer_on_a_read_is_unavailable(binance_exchange, binance_emulator):
    binance_emulator.delay("GET", "/fapi/v3/account", seconds=2.5)
    with pytest.raises(ExchangeUnavailableError):
        binance_exchange.fetch_balance()


def test_connection_refused_means_nothing_was_sent_even_for_an_order(binance_emulator):
    exchange = BinanceExchange(
        api_key=binance_emulator.api_key,
        api_secret=binance_emulator.api_secret,
        base_url=binance_emulator.url,
        timeout=1.0,
        weight_store=LocalWeightStore(),
    )
    exchange.load_markets()
    binance_emulator.stop()
    with pytest.raises(ExchangeUnavailableError):
        exchange.create_order(buy("refused-1"))


def test_margin_beyond_the_balance_is_insufficient_funds(binance_exchange):
    with pytest.raises(InsufficientFundsError) as raised:
        binance_exchange.create_order(buy("huge-1", qty="40", price=None))  # 2.6M at 20x > 100k
    assert raised.value.exchange_code == "-2019"


def test_unknown_order_lookup_and_cancel_are_not_found_with_their_codes(binance_exchange):
    with pytest.raises(OrderNotFoundError) as raised:
        binance_exchange.fetch_order("BTCUSDT", "never-placed")
    assert raised.value.exchange_code == "-2013"
    binance_exchange.create_order(buy("cancel-twice"))
    binance_exchange.cancel_order("BTCUSDT", "cancel-twice")
    with pytest.raises(OrderNotFoundError) as raised:
        binance_exchange.cancel_order("BTCUSDT", "cancel-twice")
    assert raised.value.exchange_code == "-2011"


def test_wrong_secret_and_wrong_key_are_auth_errors(binance_emulator):
    def connector(key: str, secret: str) -> BinanceExchange:
        return BinanceExchange(
            api_key=key, api_secret=secret, base_url=binance_emulator.url, timeout=1.0,
            weight_store=LocalWeightStore(),
        )  # fmt: skip

    with pytest.raises(ExchangeAuthError) as raised:
        connector(binance_emulator.api_key, "not-the-secret").fetch_balance()
    assert raised.value.exchange_code == "-1022"
    with pytest.raises(ExchangeAuthError) as raised:
        connector("not-the-key", binance_emulator.api_secret).fetch_balance()
    assert raised.value.exchange_code == "-2015"


def test_the_clock_is_measured_before_the_first_signed_request(binance_exchange, binance_emulator):
    binance_emulator.shift_clock(+8_000)  # e.g. a host whose clock is 8 s behind
    assert binance_exchange.fetch_positions() == []
    assert [r.path for r in binance_emulator.received()][-2:] == [
        "/fapi/v1/time",
        "/fapi/v3/positionRisk",
    ]
    assert 7_000 < binance_exchange.time_offset_ms < 9_000
    assert set(binance_emulator.statuses()) == {200}


def test_a_signed_read_refused_for_its_timestamp_measures_the_clock_and_is_sent_again(
    binance_exchange, binance_emulator
):
    binance_exchange.fetch_positions()
    binance_emulator.shift_clock(+20_000)  # the exchange's clock jumps after the measurement
    assert binance_exchange.fetch_positions() == []
    reads = binance_emulator.received("GET", "/fapi/v3/positionRisk")
    assert [r.status for r in reads] == [200, 400, 200]
    assert len(binance_emulator.received("GET", "/fapi/v1/time")) == 2


def test_an_order_refused_for_its_timestamp_is_time_drift_for_the_order_manager(
    binance_exchange, binance_emulator
):
    binance_exchange.fetch_positions()
    binance_emulator.shift_clock(+20_000)
    with pytest.raises(TimeDriftError) as raised:
        binance_exchange.create_order(buy())
    assert raised.value.exchange_code == "-1021"
    assert "recvWindow" in str(raised.value)
    assert binance_emulator.orders_with_client_id("err-1") == []


def test_the_clock_is_measured_again_once_the_interval_has_passed(
    binance_exchange, binance_emulator, monkeypatch
):
    from exchanges.binance import exchange as module

    binance_exchange.fetch_positions()
    monkeypatch.setattr(module, "CLOCK_RESYNC_SECONDS", 0.0)
    binance_exchange.sync_time()  # due at once from now on
    binance_exchange.fetch_positions()
    assert len(binance_emulator.received("GET", "/fapi/v1/time")) == 3


def test_429_carries_retry_after_then_every_sender_backs_off_without_sending(binance_emulator):
    binance_emulator.weight_limit = 4
    binance_emulator.wait_for_window_room()
    exchange = BinanceExchange(
        api_key=binance_emulator.api_key, api_secret=binance_emulator.api_secret,
        base_url=binance_emulator.url, timeout=1.0, weight_store=LocalWeightStore(),
    )  # fmt: skip
    exchange.market_snapshot("BTCUSDT")  # weight 2
    exchange.market_snapshot("BTCUSDT")  # 4: at the emulator's limit, far below our budget
    with pytest.raises(RateLimitedError) as raised:
        exchange.market_snapshot("BTCUSDT")
    assert (raised.value.exchange_code, raised.value.banned) == ("-1003", False)
    assert raised.value.retry_after >= 1
    sent = len(binance_emulator.received())

    with pytest.raises(RateLimitedError) as raised:
        exchange.market_snapshot("BTCUSDT")
    assert raised.value.exchange_code is None  # refused here, not by Binance
    assert raised.value.retry_after > 0
    assert len(binance_emulator.received()) == sent


def test_carrying_on_after_a_429_earns_a_418_ban(binance_emulator):
    binance_emulator.weight_limit = 2
    binance_emulator.wait_for_window_room()

    def fresh() -> BinanceExchange:  # a client that does not know about the 429
        return BinanceExchange(
            api_key=binance_emulator.api_key, api_secret=binance_emulator.api_secret,
            base_url=binance_emulator.url, timeout=1.0, weight_store=LocalWeightStore(),
        )  # fmt: skip

    fresh().market_snapshot("BTCUSDT")
    with pytest.raises(RateLimitedError) as first:
        fresh().market_snapshot("BTCUSDT")
    with pytest.raises(RateLimitedError) as second:
        fresh().market_snapshot("BTCUSDT")
    assert first.value.banned is False
    assert second.value.banned is True
    assert second.value.retry_after == binance_emulator.ban_seconds
    assert binance_emulator.statuses()[-2:] == [429, 418]


def test_injected_418_is_a_ban_with_its_retry_after(binance_exchange, binance_emulator):
    binance_emulator.fail(
        "GET", "/fapi/v1/ticker/bookTicker", status=418,
        body={"code": -1003, "msg": "Way too many requests; IP banned until 1762423320000."},
        headers={"Retry-After": "300"},
    )  # fmt: skip
    with pytest.raises(RateLimitedError) as raised:
        binance_exchange.market_snapshot("BTCUSDT")
    assert (raised.value.banned, raised.value.retry_after) == (True, 300.0)
