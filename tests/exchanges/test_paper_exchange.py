"""The paper exchange against a scripted top of book: fills, fees, positions, margin,
order rules and history, with the database rows they leave."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from exchanges.base import OrderState
from exchanges.errors import (
    InsufficientFundsError,
    OrderNotFoundError,
    OrderRejectedError,
    UnknownSymbolError,
)
from exchanges.models import PaperAccount, PaperOrder, PaperPosition, PaperTrade
from tests.exchanges.conftest import order

D = Decimal


def wallet(paper) -> Decimal:
    return PaperAccount.objects.get(name=paper.account_name).wallet_balance


def test_market_buy_fills_at_the_ask_and_pays_the_taker_fee(paper, feed):
    feed.set("BTCUSDT", "60000.0", "60000.5")

    result = paper.create_order(order("buy-1", "BUY", "0.1"))

    assert result.status == OrderState.FILLED
    assert result.average_price == D("60000.5")
    assert result.filled_quantity == D("0.1")
    [fill] = paper.fetch_fills("BTCUSDT")
    assert (fill.price, fill.quantity, fill.is_maker) == (D("60000.5"), D("0.1"), False)
    assert fill.fee == D("6000.05") * D("0.0004")  # notional * taker fee = 2.40002
    assert fill.client_order_id == "buy-1"
    assert wallet(paper) == D("10000") - D("2.40002")
    [position] = paper.fetch_positions()
    assert (position.quantity, position.entry_price) == (D("0.1"), D("60000.5"))


def test_market_sell_fills_at_the_bid(paper, feed):
    feed.set("BTCUSDT", "59990.0", "60000.0")
    result = paper.create_order(order("sell-1", "SELL", "0.01"))
    assert result.average_price == D("59990.0")
    [position] = paper.fetch_positions()
    assert position.quantity == D("-0.01")


def test_limit_order_rests_until_the_book_crosses_it_then_fills_as_maker_at_its_price(
    paper, feed, clock
):
    feed.set("BTCUSDT", "60000.0", "60000.1")
    resting = paper.create_order(order("limit-1", "BUY", "0.01", price="59900.0"))
    assert resting.status == OrderState.NEW

    feed.set("BTCUSDT", "59900.1", "59900.2")  # close, not crossed: ask above the limit
    clock.advance(5)
    paper.market_snapshot("BTCUSDT")
    assert paper.fetch_order("BTCUSDT", "limit-1").status == OrderState.NEW
    assert paper.fetch_fills("BTCUSDT") == []

    feed.set("BTCUSDT", "59850.0", "59850.1")  # the ask fell through the limit
    clock.advance(5)
    paper.market_snapshot("BTCUSDT")

    filled = paper.fetch_order("BTCUSDT", "limit-1")
    assert filled.status == OrderState.FILLED
    assert filled.average_price == D("59900.0")
    [fill] = paper.fetch_fills("BTCUSDT")
    assert fill.is_maker is True
    assert fill.fee == D("599.000") * D("0.0002")
    assert fill.executed_at == clock.now
    assert paper.fetch_open_orders("BTCUSDT") == []


def test_marketable_limit_order_fills_at_once_at_the_better_book_price(paper, feed):
    feed.set("BTCUSDT", "60000.0", "60000.1")
    result = paper.create_order(order("take-1", "BUY", "0.01", price="60100.0"))
    assert result.status == OrderState.FILLED
    assert result.average_price == D("60000.1")


def test_post_only_order_that_would_take_is_rejected(paper, feed):
    feed.set("BTCUSDT", "60000.0", "60000.1")
    with pytest.raises(OrderRejectedError) as error:
        paper.create_order(order("gtx-1", "BUY", "0.01", price="60000.1", time_in_force="GTX"))
    assert error.value.exchange_code == "-5022"
    assert not PaperOrder.objects.exists()


def test_ioc_limit_order_that_does_not_cross_expires_unfilled(paper):
    result = paper.create_order(order("ioc-1", "BUY", "0.01", price="59000.0", time_in_force="IOC"))
    assert result.status == OrderState.EXPIRED
    assert paper.fetch_open_orders("BTCUSDT") == []


def test_hedge_mode_tracks_long_and_short_positions_separately(paper, feed):
    assert paper.set_position_mode(hedge=True).changed is True
    feed.set("BTCUSDT", "60000.0", "60000.0")
    paper.create_order(order("long-1", "BUY", "0.2", position_side="LONG"))
    feed.set("BTCUSDT", "61000.0", "61000.0")
    paper.create_order(order("short-1", "SELL", "0.1", position_side="SHORT"))

    positions = {p.position_side: p for p in paper.fetch_positions(["BTCUSDT"])}
    assert set(positions) == {"LONG", "SHORT"}
    assert (positions["LONG"].quantity, positions["LONG"].entry_price) == (D("0.2"), D("60000"))
    assert (positions["SHORT"].quantity, positions["SHORT"].entry_price) == (D("-0.1"), D("61000"))
    assert positions["LONG"].unrealized_pnl == D("200")  # (61000 - 60000) * 0.2
    assert positions["SHORT"].unrealized_pnl == D("0")

    # Closing the long (SELL LONG) leaves the short alone and realises the long's PnL.
    paper.create_order(order("close-long", "SELL", "0.2", position_side="LONG"))
    positions = {p.position_side: p for p in paper.fetch_positions()}
    assert set(positions) == {"SHORT"}
    closing = PaperTrade.objects.get(order__client_order_id="close-long")
    assert closing.realized_pnl == D("200")
    assert PaperPosition.objects.get(position_side="LONG").quantity == 0


def test_hedge_mode_refuses_orders_without_a_long_or_short_side_and_reduce_only(paper):
    paper.set_position_mode(hedge=True)
    with pytest.raises(OrderRejectedError) as error:
        paper.create_order(order("both-1", "BUY", "0.01"))
    assert error.value.exchange_code == "-4061"
    with pytest.raises(OrderRejectedError) as error:
        paper.create_order(order("ro-1", "SELL", "0.01", position_side="LONG", reduce_only=True))
    assert error.value.exchange_code == "-1106"
    with pytest.raises(OrderRejectedError) as error:
        # Closing a long that does not exist.
        paper.create_order(order("close-1", "SELL", "0.01", position_side="LONG"))
    assert error.value.exchange_code == "-2022"


def test_one_way_mode_refuses_a_long_or_short_position_side(paper):
    with pytest.raises(OrderRejectedError) as error:
        paper.create_order(order("long-1", "BUY", "0.01", position_side="LONG"))
    assert error.value.exchange_code == "-4061"


def test_one_way_order_larger_than_the_position_flips_it_and_realises_pnl(paper, feed):
    feed.set("BTCUSDT", "60000.0", "60000.0")
    paper.create_order(order("open", "BUY", "0.1"))
    feed.set("BTCUSDT", "60500.0", "60500.0")
    paper.create_order(order("flip", "SELL", "0.3"))

    [position] = paper.fetch_positions()
    assert (position.quantity, position.entry_price) == (D("-0.2"), D("60500"))
    flip = PaperTrade.objects.get(order__client_order_id="flip")
    assert flip.realized_pnl == D("50")  # (60500 - 60000) * 0.1 closed
    fees = D("6000") * D("0.0004") + D("18150") * D("0.0004")
    assert wallet(paper) == D("10000") + D("50") - fees


def test_reduce_only_order_must_reduce_an_existing_position(paper, feed):
    with pytest.raises(OrderRejectedError) as error:
        paper.create_order(order("ro-flat", "SELL", "0.01", reduce_only=True))
    assert error.value.exchange_code == "-2022"

    paper.create_order(order("open", "BUY", "0.01"))
    with pytest.raises(OrderRejectedError):
        paper.create_order(order("ro-same-side", "BUY", "0.01", reduce_only=True))
    with pytest.raises(OrderRejectedError):
        paper.create_order(order("ro-too-big", "SELL", "0.02", reduce_only=True))

    closed = paper.create_order(order("ro-ok", "SELL", "0.01", reduce_only=True))
    assert closed.status == OrderState.FILLED
    assert paper.fetch_positions() == []


def test_reduce_only_order_below_min_notional_is_accepted(paper):
    paper.create_order(order("open", "BUY", "0.002"))
    # 0.001 * 60000 = 60 < 100 min notional, waived for reduce-only as on Binance.
    assert paper.create_order(order("ro", "SELL", "0.001", reduce_only=True)).status == "FILLED"


def test_resting_reduce_only_order_expires_when_its_position_is_gone(paper, feed):
    paper.create_order(order("open", "BUY", "0.01"))
    paper.create_order(order("tp", "SELL", "0.01", price="61000.0", reduce_only=True))
    paper.create_order(order("close", "SELL", "0.01"))  # closes the position first
    feed.set("BTCUSDT", "61000.0", "61000.1")
    paper.market_snapshot("BTCUSDT")
    assert paper.fetch_order("BTCUSDT", "tp").status == OrderState.EXPIRED
    assert paper.fetch_positions() == []


def test_order_beyond_available_margin_is_refused_with_insufficient_funds(paper):
    paper.set_leverage("BTCUSDT", 2)
    # 0.4 * 60000.1 / 2 = 12000 > 10000 balance.
    with pytest.raises(InsufficientFundsError) as error:
        paper.create_order(order("big", "BUY", "0.4"))
    assert error.value.exchange_code == "-2019"
    assert not PaperOrder.objects.exists()
    assert wallet(paper) == D("10000")


def test_higher_leverage_needs_less_margin(paper):
    paper.set_leverage("BTCUSDT", 10)
    paper.create_order(order("big", "BUY", "0.4"))
    [balance] = paper.fetch_balance()
    assert balance.used == (D("0.4") * D("60000.1") / 10).quantize(D("0.00000001"))


def test_resting_limit_order_reserves_margin_until_cancelled(paper):
    paper.set_leverage("BTCUSDT", 5)
    paper.create_order(order("rest", "BUY", "0.5", price="50000.0"))
    [balance] = paper.fetch_balance()
    assert balance.used == D("5000")  # 0.5 * 50000 / 5
    assert balance.available == D("5000")

    cancelled = paper.cancel_order("BTCUSDT", "rest")
    assert cancelled.status == OrderState.CANCELED
    [balance] = paper.fetch_balance()
    assert (balance.used, balance.available) == (D("0"), D("10000"))


def test_client_order_id_is_unique_among_open_orders_only(paper):
    paper.create_order(order("same", "BUY", "0.01", price="50000.0"))
    with pytest.raises(OrderRejectedError) as error:
        paper.create_order(order("same", "BUY", "0.01", price="50000.0"))
    assert error.value.exchange_code == "-4116"

    paper.cancel_order("BTCUSDT", "same")
    reused = paper.create_order(order("same", "BUY", "0.01"))
    # The lookup finds the most recent order with that id.
    assert paper.fetch_order("BTCUSDT", "same").exchange_order_id == reused.exchange_order_id


def test_unknown_orders_are_not_found_with_binance_codes(paper):
    with pytest.raises(OrderNotFoundError) as error:
        paper.fetch_order("BTCUSDT", "nope")
    assert error.value.exchange_code == "-2013"
    paper.create_order(order("done", "BUY", "0.01"))
    with pytest.raises(OrderNotFoundError) as error:
        paper.cancel_order("BTCUSDT", "done")  # filled: nothing open to cancel
    assert error.value.exchange_code == "-2011"


def test_filters_normalise_prices_and_refuse_small_orders_before_writing(paper):
    buy = paper.create_order(order("b", "BUY", "0.0109", price="50000.06"))
    sell = paper.create_order(order("s", "SELL", "0.0109", price="70000.04"))
    assert (buy.price, buy.quantity) == (D("50000.0"), D("0.010"))
    assert sell.price == D("70000.1")
    with pytest.raises(OrderRejectedError, match=r"below the minimum 0\.001"):
        paper.create_order(order("tiny", "BUY", "0.0004"))
    with pytest.raises(OrderRejectedError, match="notional"):
        paper.create_order(order("small", "BUY", "0.001"))
    assert PaperOrder.objects.count() == 2


def test_unknown_symbol_is_refused(paper):
    with pytest.raises(UnknownSymbolError):
        paper.create_order(order("x", "BUY", "1", symbol="NOPE"))


def test_margin_mode_and_leverage_changes_report_when_nothing_changed(paper):
    assert paper.set_leverage("BTCUSDT", 20).changed is False  # Binance's default
    assert paper.set_leverage("BTCUSDT", 5).changed is True
    assert paper.set_margin_mode("BTCUSDT", isolated=False).changed is False
    change = paper.set_margin_mode("BTCUSDT", isolated=True)
    assert (change.setting, change.value, change.changed) == ("margin_mode", "isolated", True)
    assert paper.set_position_mode(hedge=False).changed is False

    paper.create_order(order("open", "BUY", "0.01"))
    [position] = paper.fetch_positions()
    assert (position.leverage, position.margin_mode) == (5, "isolated")
    with pytest.raises(OrderRejectedError) as error:
        paper.set_margin_mode("BTCUSDT", isolated=False)
    assert error.value.exchange_code == "-4048"
    with pytest.raises(OrderRejectedError) as error:
        paper.set_position_mode(hedge=True)
    assert error.value.exchange_code == "-4068"
    with pytest.raises(OrderRejectedError):
        paper.set_leverage("BTCUSDT", 126)


def test_balance_counts_unrealised_pnl_and_fees(paper, feed):
    feed.set("BTCUSDT", "60000.0", "60000.0")
    paper.create_order(order("open", "BUY", "0.1"))
    feed.set("BTCUSDT", "61000.0", "61000.0")
    [balance] = paper.fetch_balance()
    fee = D("6000") * D("0.0004")
    assert balance.unrealized_pnl == D("100")
    assert balance.total == D("10000") - fee + D("100")
    assert balance.used == D("300")  # 6000 / 20x
    assert balance.available == D("10000") - fee + D("100") - D("300")


def test_fills_can_be_read_by_order_and_since_a_time(paper, clock):
    first = paper.create_order(order("one", "BUY", "0.01"))
    clock.advance(60)
    paper.create_order(order("two", "BUY", "0.01"))
    assert [f.client_order_id for f in paper.fetch_fills("BTCUSDT")] == ["one", "two"]
    assert [f.client_order_id for f in paper.fetch_fills("BTCUSDT", since=clock.now)] == ["two"]
    [fill] = paper.fetch_fills("BTCUSDT", exchange_order_id=first.exchange_order_id)
    assert fill.client_order_id == "one"


def test_a_tick_matching_many_resting_orders_costs_no_query_per_order(paper, feed):
    """N+1 guard on the paths every tick takes: filling the crossed orders of a snapshot
    and reading the open orders cost the same with one order as with four."""

    def queries_with(count: int) -> tuple[int, int]:
        for n in range(count):
            paper.create_order(order(f"cross-{count}-{n}", "BUY", "0.002", price="59900.0"))
            paper.create_order(order(f"rest-{count}-{n}", "BUY", "0.002", price="50000.0"))
        feed.set("BTCUSDT", "59850.0", "59850.1")
        with CaptureQueriesContext(connection) as matching:
            paper.market_snapshot("BTCUSDT")
        with CaptureQueriesContext(connection) as reading:
            still_open = paper.fetch_open_orders("BTCUSDT")
        feed.set("BTCUSDT", "60000.0", "60000.1")
        assert len(still_open) == len(PaperOrder.objects.filter(client_order_id__startswith="rest"))
        assert not [o for o in still_open if o.client_order_id.startswith("cross")]
        return len(matching), len(reading)

    assert queries_with(1) == queries_with(4)
    assert PaperTrade.objects.count() == 5


def test_open_orders_of_a_symbol_without_market_data_are_refused(db, clock):
    from exchanges.market_data import SyntheticFeed
    from exchanges.paper import PaperExchange

    paper = PaperExchange(feed=SyntheticFeed(seed=1), clock=clock, account="test")
    with pytest.raises(UnknownSymbolError):
        paper.fetch_open_orders("NOPE")


def test_a_limit_order_without_a_price_is_rejected_before_writing(paper):
    without_price = order("no-price", "BUY", "0.01").replace(order_type="LIMIT")
    with pytest.raises(OrderRejectedError) as error:
        paper.create_order(without_price)
    assert error.value.exchange_code == "-1102"
    assert not PaperOrder.objects.exists()
