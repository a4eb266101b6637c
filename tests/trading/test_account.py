"""The account on the overview and the API: the exchange's balance read through the
exchange interface and kept, with equity moving by the marks of every tick."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from rest_framework.test import APIClient

from tests.factories import StrategyConfigFactory
from trading.models import AccountBalance, Position
from trading.selectors import account_view
from trading.services.account import account_refresh
from trading.services.orders import SendNow
from trading.services.tick import tick_run
from trading.services.trader import Trader

pytestmark = pytest.mark.django_db
CENT = D("0.01")


def tick(paper, manager):
    return tick_run(symbol="BTCUSDT", exchange=paper, manager=manager, submit=SendNow(paper))


@pytest.fixture
def long_btc(paper, manager):
    StrategyConfigFactory(
        name="twap-btc",
        kind="twap",
        symbol="BTCUSDT",
        params={"side": "BUY", "total_quantity": "0.01", "slices": 1, "interval_seconds": 60},
    )
    tick(paper, manager)
    return Position.objects.get(symbol="BTCUSDT")


def test_account_refresh_keeps_what_the_exchange_reports(paper, long_btc):
    [reported] = paper.fetch_balance()
    [row] = account_refresh(exchange=paper)
    row = AccountBalance.objects.get(pk=row.pk)
    assert (row.exchange, row.asset) == ("paper", "USDT")
    assert row.equity == reported.total
    assert row.wallet_balance == reported.total - reported.unrealized_pnl
    assert (row.used_margin, row.available) == (reported.used, reported.available)
    # 100000 USDT less the taker fee of 0.01 BTC at 65001: the wallet, to the cent.
    assert row.wallet_balance.quantize(CENT) == D("99999.74")
    assert row.used_margin > 0
    # Read again: the same row, replaced.
    account_refresh(exchange=paper)
    assert AccountBalance.objects.count() == 1


def test_equity_moves_with_the_marks_of_every_tick_between_reads(
    paper, manager, feed, clock, long_btc
):
    account_refresh(exchange=paper)
    before = account_view(exchange_name="paper")
    feed.quote("BTCUSDT", "66000.0", "66001.0")
    clock.advance(5)
    tick(paper, manager)  # marks the position at the new mid, no new read of the balance
    after = account_view(exchange_name="paper")
    position = Position.objects.get(symbol="BTCUSDT")
    assert after.wallet_balance == before.wallet_balance
    assert after.unrealized_pnl == position.unrealized_pnl
    assert after.equity == after.wallet_balance + position.unrealized_pnl
    # 0.01 BTC bought at 65001, marked at 66000.5: +9.995 USDT.
    assert position.unrealized_pnl == D("9.995")
    assert after.equity - before.equity == position.unrealized_pnl - before.unrealized_pnl


def test_the_api_serves_the_account_as_the_database_has_it(paper, long_btc, admin_user):
    api = APIClient()
    api.force_authenticate(admin_user)
    assert api.get("/api/account").status_code == 404
    account_refresh(exchange=paper)
    body = api.get("/api/account").json()
    view = account_view(exchange_name="paper")
    assert body["asset"] == "USDT"
    for field in ("wallet_balance", "unrealized_pnl", "equity", "used_margin", "available"):
        assert D(body[field]) == getattr(view, field), field


def test_the_overview_shows_balance_equity_and_margin(paper, long_btc, client, user):
    client.force_login(user)
    assert "data-account-missing" in client.get("/").content.decode()
    account_refresh(exchange=paper)
    page = client.get("/").content.decode()
    view = account_view(exchange_name="paper")
    assert "99,999.74" in page  # the wallet, as the money filter writes it
    assert "data-account-equity" in page and "data-account-used" in page
    assert f"{view.equity.quantize(CENT):,}" in page


def test_the_trader_reads_the_account_every_round_it_is_due(paper, monkeypatch):
    # A round closes stale connections, this test's (in its transaction) included.
    monkeypatch.setattr("trading.services.trader.close_old_connections", lambda: None)
    trader = Trader(exchange=paper, symbols=["BTCUSDT"], interval=1, account_every=0)
    trader.run_round()
    first = AccountBalance.objects.get().fetched_at
    trader.run_round()
    assert AccountBalance.objects.get().fetched_at >= first
