"""The Binance connector (real ccxt) against the loopback emulator: filters, order
parameters, order lifecycle, account reads, futures settings, clock sync, market data."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchanges.base import OrderRequest, OrderState
from exchanges.errors import OrderRejectedError, TimeDriftError

D = Decimal
ORDER = "/fapi/v1/order"


def limit(cid: str, side: str, qty: str, price: str, **kw) -> OrderRequest:
    return OrderRequest("BTCUSDT", side, "LIMIT", D(qty), cid, price=D(price), **kw)


def market(cid: str, side: str, qty: str, symbol: str = "BTCUSDT", **kw) -> OrderRequest:
    return OrderRequest(symbol, side, "MARKET", D(qty), cid, **kw)


def sent(emulator, cid: str) -> dict:
    [request] = [
        r for r in emulator.received("POST", ORDER) if r.params.get("newClientOrderId") == cid
    ]
    return request.params


@pytest.fixture
def book(binance_emulator):
    binance_emulator.set_book("BTCUSDT", "27123.0", "27124.0")


def test_buy_limit_price_is_rounded_down_to_the_tick(binance_exchange, binance_emulator, book):
    order = binance_exchange.create_order(limit("buy-1", "BUY", "0.01", "27123.456"))
    assert sent(binance_emulator, "buy-1")["price"] == "27123.4"
    assert order.price == D("27123.4")
    assert order.status == OrderState.NEW


def test_sell_limit_price_is_rounded_up_to_the_tick(binance_exchange, binance_emulator, book):
    order = binance_exchange.create_order(limit("sell-1", "SELL", "0.01", "27123.456"))
    assert sent(binance_emulator, "sell-1")["price"] == "27123.5"
    assert order.price == D("27123.5")


def test_quantity_is_truncated_to_the_step(binance_exchange, binance_emulator, book):
    binance_exchange.create_order(limit("qty-1", "BUY", "0.01299", "27000"))
    assert sent(binance_emulator, "qty-1")["quantity"] == "0.012"


def test_quantity_below_the_minimum_is_refused_locally_without_a_request(
    binance_exchange, binance_emulator
):
    binance_exchange.load_markets()
    before = len(binance_emulator.received())
    with pytest.raises(OrderRejectedError) as error:
        binance_exchange.create_order(limit("tiny-1", "BUY", "0.0009", "27000"))
    assert "below the minimum 0.001 for BTCUSDT" in str(error.value)
    assert error.value.code == "local.min_qty"
    assert len(binance_emulator.received()) == before
    assert binance_emulator.received("POST", ORDER) == []


def test_limit_order_below_min_notional_is_refused_locally(binance_exchange, binance_emulator):
    binance_exchange.load_markets()
    with pytest.raises(OrderRejectedError, match="notional"):
        binance_exchange.create_order(limit("small-1", "BUY", "0.002", "27000"))  # 54 < 100
    assert binance_emulator.received("POST", ORDER) == []


def test_market_order_below_min_notional_is_refused_locally_once_a_book_is_known(
    binance_exchange, binance_emulator
):
    binance_exchange.market_snapshot("BTCUSDT")  # 65000: 0.001 BTC is 65 USDT < 100
    with pytest.raises(OrderRejectedError, match="notional") as error:
        binance_exchange.create_order(market("small-2", "BUY", "0.001"))
    assert error.value.code == "local.min_notional"
    assert binance_emulator.received("POST", ORDER) == []


def test_market_order_without_a_known_book_is_left_to_binance_min_notional(
    binance_exchange, binance_emulator
):
    with pytest.raises(OrderRejectedError) as error:
        binance_exchange.create_order(market("small-3", "BUY", "0.001"))
    assert error.value.exchange_code == "-4164"
    assert len(binance_emulator.received("POST", ORDER)) == 1


def test_client_order_id_position_side_and_reduce_only_are_sent(binance_exchange, binance_emulator):
    binance_exchange.create_order(market("open-1", "BUY", "0.01"))
    binance_exchange.create_order(market("close-1", "SELL", "0.01", reduce_only=True))

    opened, closed = sent(binance_emulator, "open-1"), sent(binance_emulator, "close-1")
    assert opened["positionSide"] == "BOTH" and "reduceOnly" not in opened
    assert (closed["side"], closed["positionSide"], closed["reduceOnly"]) == (
        "SELL",
        "BOTH",
        "true",
    )
    assert binance_exchange.fetch_positions() == []


def test_hedge_mode_orders_carry_their_position_side_and_keep_their_side(
    binance_exchange, binance_emulator
):
    assert binance_exchange.set_position_mode(hedge=True).changed is True
    binance_exchange.create_order(market("long-1", "BUY", "0.01", position_side="LONG"))
    binance_exchange.create_order(market("short-1", "SELL", "0.02", position_side="SHORT"))
    binance_exchange.create_order(market("close-long", "SELL", "0.01", position_side="LONG"))

    closing = sent(binance_emulator, "close-long")
    # ccxt's `hedged` flag would have flipped this to BUY/SHORT semantics; it is not used.
    assert (closing["side"], closing["positionSide"]) == ("SELL", "LONG")
    assert "reduceOnly" not in closing
    [short] = binance_exchange.fetch_positions(["BTCUSDT"])
    assert (short.position_side, short.quantity) == ("SHORT", D("-0.02"))
    assert short.entry_price == D("65000.00")


def test_order_lifecycle_lookup_by_client_id_open_orders_fill_and_cancel(
    binance_exchange, binance_emulator, book
):
    placed = binance_exchange.create_order(limit("life-1", "BUY", "0.01", "27000"))
    binance_exchange.create_order(limit("life-2", "BUY", "0.01", "26900"))

    found = binance_exchange.fetch_order("BTCUSDT", "life-1")
    assert found.exchange_order_id == placed.exchange_order_id
    assert [o.client_order_id for o in binance_exchange.fetch_open_orders("BTCUSDT")] == [
        "life-1",
        "life-2",
    ]

    binance_emulator.set_book("BTCUSDT", "26990.0", "26999.9")  # crosses life-1 only
    filled = binance_exchange.fetch_order("BTCUSDT", "life-1")
    assert (filled.status, filled.filled_quantity, filled.average_price) == (
        OrderState.FILLED,
        D("0.01"),
        D("27000"),
    )
    [fill] = binance_exchange.fetch_fills("BTCUSDT", exchange_order_id=placed.exchange_order_id)
    assert (fill.price, fill.quantity, fill.is_maker) == (D("27000"), D("0.01"), True)
    assert fill.fee == D("0.05400000")  # 270 USDT * 0.02% maker

    cancelled = binance_exchange.cancel_order("BTCUSDT", "life-2")
    assert cancelled.status == OrderState.CANCELED
    assert binance_exchange.fetch_open_orders("BTCUSDT") == []
    assert sent(binance_emulator, "life-1")["timeInForce"] == "GTC"


def test_balance_and_positions_are_read_as_decimals(binance_exchange):
    binance_exchange.set_leverage("BTCUSDT", 10)
    binance_exchange.create_order(market("pos-1", "BUY", "0.1"))

    [position] = binance_exchange.fetch_positions()
    assert (position.symbol, position.position_side) == ("BTCUSDT", "BOTH")
    assert (position.quantity, position.entry_price) == (D("0.1"), D("65000.10"))
    assert position.mark_price == D("65000.05")
    assert position.unrealized_pnl == D("-0.005")
    [balance] = binance_exchange.fetch_balance()
    assert balance.asset == "USDT"
    assert balance.used == D("650.001")  # 6500.01 / 10x
    fee = D("6500.010") * D("0.0004")
    assert balance.total == D("100000") - fee - D("0.005")


def test_leverage_margin_mode_and_position_mode_including_no_need_to_change(
    binance_exchange, binance_emulator
):
    leverage = binance_exchange.set_leverage("BTCUSDT", 7)
    assert (leverage.setting, leverage.value, leverage.changed) == ("leverage", "7", True)
    assert binance_emulator.received("POST", "/fapi/v1/leverage")[-1].params["leverage"] == "7"

    unchanged = binance_exchange.set_margin_mode("BTCUSDT", isolated=False)  # already cross
    assert (unchanged.changed, unchanged.detail["code"]) == (False, "-4046")
    changed = binance_exchange.set_margin_mode("BTCUSDT", isolated=True)
    assert (changed.value, changed.changed) == ("isolated", True)
    assert (
        binance_emulator.received("POST", "/fapi/v1/marginType")[-1].params["marginType"]
        == "ISOLATED"
    )
    assert binance_exchange.set_margin_mode("BTCUSDT", isolated=True).changed is False

    same_mode = binance_exchange.set_position_mode(hedge=False)
    assert (same_mode.changed, same_mode.detail["code"]) == (False, "-4059")
    assert binance_exchange.set_position_mode(hedge=True).changed is True
    assert binance_emulator.account.dual_side is True
    assert binance_exchange.set_position_mode(hedge=True).changed is False


def test_settings_that_binance_refuses_are_rejections(binance_exchange):
    binance_exchange.create_order(market("pos-1", "BUY", "0.01"))
    with pytest.raises(OrderRejectedError) as error:
        binance_exchange.set_margin_mode("BTCUSDT", isolated=True)  # with a position open
    assert error.value.exchange_code == "-4048"
    with pytest.raises(OrderRejectedError) as error:
        binance_exchange.set_leverage("BTCUSDT", 200)
    assert error.value.code == "local.leverage"


def test_sync_time_measures_the_offset_and_signed_calls_then_pass(
    binance_exchange, binance_emulator
):
    binance_exchange.fetch_balance()  # measures the clock, then it jumps:
    binance_emulator.shift_clock(-30_000)  # the exchange clock is 30 s behind ours
    with pytest.raises(TimeDriftError) as error:
        binance_exchange.create_order(
            OrderRequest("BTCUSDT", "BUY", "MARKET", Decimal("0.01"), "drift-1")
        )
    assert error.value.exchange_code == "-1021"

    offset = binance_exchange.sync_time()
    assert -30_500 < offset < -29_500
    assert binance_exchange.fetch_balance()[0].asset == "USDT"
    timestamp = int(binance_emulator.received("GET", "/fapi/v3/account")[-1].params["timestamp"])
    assert abs(timestamp - binance_emulator.now_ms()) < 1000


def test_market_snapshot_is_the_book_ticker(binance_exchange, binance_emulator):
    binance_emulator.set_book("ETHUSDT", "3499.98", "3500.01")
    snapshot = binance_exchange.market_snapshot("ETHUSDT")
    assert (snapshot.bid, snapshot.ask, snapshot.mid) == (D("3499.98"), D("3500.01"), D("3499.995"))
    assert snapshot.timestamp.tzinfo is not None
    assert binance_emulator.received()[-1].path == "/fapi/v1/ticker/bookTicker"


def test_research_market_data_comes_back_typed(binance_exchange, binance_emulator):
    candles = binance_exchange.fetch_ohlcv("BTCUSDT", "1m", limit=3)
    assert len(candles) == 3 and isinstance(candles[0].close, Decimal)
    assert candles[0].open_time < candles[1].open_time

    ticker = binance_exchange.fetch_ticker("BTCUSDT")
    assert ticker.last == D("65000.10") and ticker.change_percent == D("1.500")
    book = binance_exchange.fetch_order_book("BTCUSDT", limit=5)
    assert book.bids[0].price == D("65000.00") and book.asks[0].price == D("65000.10")
    assert len(book.bids) == 5
    assert binance_emulator.received("GET", "/fapi/v1/depth")[-1].params["limit"] == "5"
    funding = binance_exchange.fetch_funding_rate("BTCUSDT")
    assert funding.funding_rate == D("0.00010000")
    assert funding.next_funding_time > funding.timestamp
