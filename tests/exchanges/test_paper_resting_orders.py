"""Resting orders on the paper exchange: a crossed order fills from the position and
account as they are when it fills (whoever moved them), other symbols' orders keep
their margin, and what another connection or a rolled-back transaction did to the book
is what the next read shows."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal as D

import pytest
from django.db import connections, transaction

from exchanges.base import OrderState
from exchanges.errors import OrderNotFoundError
from exchanges.models import PaperAccount, PaperOrder, PaperPosition, PaperTrade
from exchanges.paper import PaperExchange
from tests.exchanges.conftest import order


def _elsewhere(paper: PaperExchange, work: Callable[[PaperExchange], object]) -> None:
    """`work(exchange)` on another database connection (a thread has its own), as
    another process sharing the account would."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            work(PaperExchange(feed=paper.feed, clock=paper.clock, account=paper.account_name))
        except BaseException as error:  # re-raised in the test's thread
            failures.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive() and failures == []


def _open(paper: PaperExchange, symbol: str = "BTCUSDT") -> list[str]:
    return [o.client_order_id for o in paper.fetch_open_orders(symbol)]


def _account() -> PaperAccount:
    return PaperAccount.objects.get(name="test")


def _position() -> PaperPosition:
    return PaperPosition.objects.get(account_id="test", symbol="BTCUSDT")


def _long_and_a_resting_sell(paper: PaperExchange) -> None:
    """Long 0.002 at 60000.1 (taker fee 0.04800008); a SELL 0.003 resting at 60100."""
    paper.create_order(order("buy", "BUY", "0.002"))
    paper.create_order(order("sell", "SELL", "0.003", price="60100.0"))
    assert _open(paper) == ["sell"]


def test_a_crossed_resting_sell_closes_the_long_and_opens_a_short_as_maker(paper, feed):
    _long_and_a_resting_sell(paper)
    feed.set("BTCUSDT", "60100.0", "60100.1")  # the bid reaches the sell

    paper.market_snapshot("BTCUSDT")

    account = _account()
    # Closing 0.002 gains 0.002 × 99.9; the maker fee is 60100 × 0.003 × 0.0002.
    assert account.wallet_balance == D("10000") - D("0.04800008") + D("0.1998") - D("0.03606")
    assert account.order_margin == 0
    position = _position()
    assert (position.quantity, position.entry_price) == (D("-0.001"), D("60100"))
    assert position.realized_pnl == D("0.1998")
    trade = PaperTrade.objects.get(order__client_order_id="sell")
    assert (trade.price, trade.quantity, trade.fee, trade.realized_pnl, trade.is_maker) == (
        D("60100"),
        D("0.003"),
        D("0.03606"),
        D("0.1998"),
        True,
    )
    assert PaperOrder.objects.get(client_order_id="sell").status == "FILLED"
    assert _open(paper) == []
    [fill] = paper.fetch_fills("BTCUSDT", exchange_order_id=str(trade.order_id))
    assert (fill.trade_id, fill.client_order_id, fill.is_maker) == (str(trade.pk), "sell", True)


def test_fills_of_one_order_are_its_own_and_of_its_symbol(paper, feed, clock):
    paper.create_order(order("other", "BUY", "0.002"))
    resting = paper.create_order(order("maker", "BUY", "0.01", price="59900.0"))
    feed.set("BTCUSDT", "59850.0", "59850.1")
    clock.advance(1)

    [fill] = paper.fetch_fills("BTCUSDT", exchange_order_id=resting.exchange_order_id)

    assert (fill.client_order_id, fill.price, fill.quantity) == ("maker", D("59900"), D("0.01"))
    assert (fill.is_maker, fill.fee, fill.executed_at) == (True, D("0.11980000"), clock.now)
    assert paper.fetch_fills("BTCUSDT", since=clock.now) == [fill]
    assert paper.fetch_fills("ETHUSDT", exchange_order_id=resting.exchange_order_id) == []


def test_another_symbols_reserved_margin_stays_reserved_when_an_order_fills(paper, feed):
    paper.create_order(order("eth-rest", "BUY", "0.1", price="2900.00", symbol="ETHUSDT"))
    eth_margin = PaperOrder.objects.get(client_order_id="eth-rest").reserved_margin
    assert eth_margin > 0
    _long_and_a_resting_sell(paper)
    assert _account().order_margin > eth_margin  # the sell's opening part has margin too
    feed.set("BTCUSDT", "60100.0", "60100.1")

    paper.market_snapshot("BTCUSDT")

    assert _account().order_margin == eth_margin
    assert _open(paper, "ETHUSDT") == ["eth-rest"]


def test_several_crossed_orders_fill_in_the_order_they_were_placed(paper, feed):
    paper.create_order(order("low", "BUY", "0.002", price="59800.0"))
    paper.create_order(order("high", "BUY", "0.003", price="59900.0"))
    paper.create_order(order("away", "BUY", "0.002", price="59000.0"))
    feed.set("BTCUSDT", "59700.0", "59700.1")  # crosses low and high, not away

    assert _open(paper) == ["away"]

    fills = paper.fetch_fills("BTCUSDT")
    assert [(f.client_order_id, f.price) for f in fills] == [
        ("low", D("59800")),
        ("high", D("59900")),
    ]
    position = _position()
    # The entry averages both fills: (0.002 × 59800 + 0.003 × 59900) / 0.005.
    assert (position.quantity, position.entry_price) == (D("0.005"), D("59860"))
    reserved = PaperOrder.objects.get(client_order_id="away").reserved_margin
    assert _account().order_margin == reserved


def test_a_resting_order_cannot_be_cancelled_once_the_book_crossed_it(paper, feed):
    resting = paper.create_order(order("late", "BUY", "0.01", price="59900.0"))
    assert resting.status == OrderState.NEW
    feed.set("BTCUSDT", "59850.0", "59850.1")

    with pytest.raises(OrderNotFoundError) as error:
        paper.cancel_order("BTCUSDT", "late")

    assert error.value.exchange_code == "-2011"
    assert paper.fetch_order("BTCUSDT", "late").status == OrderState.FILLED


def test_an_order_placed_in_a_transaction_that_rolls_back_was_never_placed(paper):
    with pytest.raises(RuntimeError), transaction.atomic():
        paper.create_order(order("rolled-back", "BUY", "0.002", price="50000.0"))
        paper.create_order(order("market", "BUY", "0.002"))
        raise RuntimeError("the caller's transaction fails after the orders")

    assert _open(paper) == []
    assert paper.fetch_fills("BTCUSDT") == []
    assert paper.fetch_positions() == []
    [balance] = paper.fetch_balance()
    assert (balance.total, balance.used) == (D("10000"), D("0"))


@pytest.mark.django_db(transaction=True)
def test_another_connections_orders_and_cancels_are_in_the_next_read(paper):
    paper.create_order(order("mine", "BUY", "0.002", price="50000.0"))
    assert _open(paper) == ["mine"]

    _elsewhere(
        paper, lambda other: other.create_order(order("theirs", "BUY", "0.002", price="50000.0"))
    )
    assert _open(paper) == ["mine", "theirs"]
    _elsewhere(
        paper,
        lambda other: other.create_order(
            order("eth", "BUY", "0.1", price="2500.00", symbol="ETHUSDT")
        ),
    )
    assert (_open(paper), _open(paper, "ETHUSDT")) == (["mine", "theirs"], ["eth"])

    _elsewhere(paper, lambda other: other.cancel_order("BTCUSDT", "mine"))
    assert _open(paper) == ["theirs"]
    assert paper.fetch_order("BTCUSDT", "mine").status == OrderState.CANCELED


@pytest.mark.django_db(transaction=True)
def test_a_position_moved_by_another_connection_is_what_the_resting_order_fills_against(
    paper, feed
):
    _long_and_a_resting_sell(paper)
    _elsewhere(paper, lambda other: other.create_order(order("more", "BUY", "0.002")))
    assert PaperOrder.objects.get(client_order_id="more").status == "FILLED"
    feed.set("BTCUSDT", "60100.0", "60100.1")

    paper.market_snapshot("BTCUSDT")

    position = _position()
    assert (position.quantity, position.entry_price) == (D("0.001"), D("60000.1"))
    # Two taker buys; closing 0.003 at 99.9 above the entry; one maker fee.
    assert _account().wallet_balance == (
        D("10000") - 2 * D("0.04800008") + D("0.2997") - D("0.03606")
    )
    assert PaperTrade.objects.filter(order__client_order_id="sell").count() == 1
    assert _account().order_margin == 0


@pytest.mark.django_db(transaction=True)
def test_connections_matching_the_same_crossed_order_at_once_fill_it_once(paper, feed):
    _long_and_a_resting_sell(paper)
    feed.set("BTCUSDT", "60100.0", "60100.1")
    start = threading.Barrier(3)
    failures: list[BaseException] = []

    def look() -> None:
        try:
            other = PaperExchange(feed=feed, clock=paper.clock, account=paper.account_name)
            start.wait(timeout=10)
            other.market_snapshot("BTCUSDT")
        except BaseException as error:
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=look) for _ in range(2)]
    for thread in threads:
        thread.start()
    start.wait(timeout=10)
    paper.market_snapshot("BTCUSDT")
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    assert PaperTrade.objects.filter(order__client_order_id="sell").count() == 1
    assert _position().quantity == D("-0.001")
    assert _account().wallet_balance == D("10000") - D("0.04800008") + D("0.1998") - D("0.03606")
