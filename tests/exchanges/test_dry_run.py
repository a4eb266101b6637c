"""The dry-run exchange accepts and logs every call and changes nothing anywhere."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from exchanges.base import OrderRequest, OrderState
from exchanges.dry_run import DryRunExchange
from exchanges.errors import OrderNotFoundError, OrderRejectedError
from exchanges.models import PaperAccount, PaperOrder
from trading.models import Order

D = Decimal


@pytest.fixture
def dry_run(clock, feed):
    return DryRunExchange(feed=feed, clock=clock, balance="5000", symbols=["BTCUSDT"])


@pytest.mark.django_db
def test_dry_run_accepts_orders_and_logs_their_parameters_without_any_query(
    dry_run, caplog, django_assert_num_queries, settings
):
    settings.EXCHANGE_API_KEY = "dry-run-secret-key-123"
    caplog.set_level(logging.INFO, logger="exchanges.dry_run")
    request = OrderRequest(
        "BTCUSDT", "SELL", "LIMIT", D("0.0129"), "dry-1", price=D("61000.04"), reduce_only=True
    )
    with django_assert_num_queries(0):
        result = dry_run.create_order(request)
        dry_run.set_leverage("BTCUSDT", 5)
        dry_run.set_margin_mode("BTCUSDT", isolated=True)
        dry_run.set_position_mode(hedge=True)
        dry_run.fetch_open_orders("BTCUSDT")
        balance = dry_run.fetch_balance()

    assert (result.status, result.filled_quantity) == (OrderState.NEW, D("0"))
    assert (result.price, result.quantity) == (D("61000.1"), D("0.012"))  # filters applied
    assert result.exchange_order_id.startswith("dry-run-")
    assert balance[0].available == D("5000")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "create_order symbol=BTCUSDT side=SELL type=LIMIT quantity=0.0129" in logged
    assert "client_order_id=dry-1" in logged and "reduce_only=True" in logged
    assert "set_leverage symbol=BTCUSDT leverage=5" in logged
    assert "set_position_mode hedge=True" in logged
    assert "dry-run-secret-key-123" not in logged


@pytest.mark.django_db
def test_dry_run_changes_nothing_anywhere(dry_run):
    dry_run.create_order(OrderRequest("BTCUSDT", "BUY", "MARKET", D("0.01"), "dry-2"))
    assert dry_run.set_leverage("BTCUSDT", 5).changed is False
    assert dry_run.fetch_positions() == []
    assert dry_run.fetch_open_orders("BTCUSDT") == []
    assert dry_run.fetch_fills("BTCUSDT") == []
    with pytest.raises(OrderNotFoundError):
        dry_run.fetch_order("BTCUSDT", "dry-2")
    with pytest.raises(OrderNotFoundError):
        dry_run.cancel_order("BTCUSDT", "dry-2")
    assert not PaperOrder.objects.exists()
    assert not PaperAccount.objects.exists()
    assert not Order.objects.exists()


def test_dry_run_still_refuses_orders_the_filters_refuse(dry_run):
    with pytest.raises(OrderRejectedError, match="minimum"):
        dry_run.create_order(OrderRequest("BTCUSDT", "BUY", "MARKET", D("0.0001"), "dry-3"))


def test_dry_run_market_data_comes_from_the_offline_feed(dry_run, feed):
    feed.set("BTCUSDT", "50000.0", "50000.2")
    snapshot = dry_run.market_snapshot("BTCUSDT")
    assert (snapshot.bid, snapshot.ask) == (D("50000.0"), D("50000.2"))
    assert len(dry_run.fetch_ohlcv("BTCUSDT", "1m", limit=5)) == 5
