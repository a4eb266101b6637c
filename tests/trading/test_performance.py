"""How the desk is doing, from real fills on the paper exchange at pinned times: closed
trades, PnL per day/week/month/symbol/strategy and the curve; the page and the API say
the same as the database, to the cent."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.db.models import F, Sum
from rest_framework.test import APIClient

from tests.factories import StrategyConfigFactory
from trading import performance
from trading.models import Fill, OrderSource, Position, RealizedPnlHour, StrategyPosition
from trading.services.orders import order_place
from trading.strategies.base import OrderIntent

pytestmark = pytest.mark.django_db


def trade(paper, symbol, side, quantity, strategy=None, key=""):
    order = order_place(
        intent=OrderIntent(key=key, symbol=symbol, side=side, quantity=D(quantity)),
        exchange=paper,
        source=OrderSource.API,
        strategy=strategy,
    )
    assert order.status == "filled", order.error_message
    return order


@pytest.fixture
def history(paper, feed, clock):
    """Day 1: a strategy buys 0.01 BTC at 65001; an hour later sells it at 66000.
    Day 2: the trader buys 1 ETH at 3500.10 by hand, sells it at 3400; the strategy
    opens a short 0.01 BTC at 66000 and is still in it."""
    strategy = StrategyConfigFactory(name="tech-btc", symbol="BTCUSDT", is_active=False)
    trade(paper, "BTCUSDT", "BUY", "0.01", strategy, "manual-t1")
    clock.advance(3600)
    feed.quote("BTCUSDT", "66000.0", "66001.0")
    trade(paper, "BTCUSDT", "SELL", "0.01", strategy, "manual-t2")
    clock.advance(86_400)
    trade(paper, "ETHUSDT", "BUY", "1")
    clock.advance(600)
    feed.quote("ETHUSDT", "3400.00", "3400.10")
    trade(paper, "ETHUSDT", "SELL", "1")
    trade(paper, "BTCUSDT", "SELL", "0.01", strategy, "manual-t3")
    return strategy


def net(fills) -> D:
    return fills.aggregate(total=Sum(F("realized_pnl") - F("fee")))["total"] or D(0)


def test_closed_trades_are_round_trips_with_their_prices_fees_and_net_pnl(paper, history):
    trades = performance.closed_trades(exchange_name="paper")
    assert [(t.strategy_name, t.symbol, t.direction) for t in trades] == [
        ("manual", "ETHUSDT", "long"),
        ("tech-btc", "BTCUSDT", "long"),
    ]
    eth, btc = trades
    assert (btc.entry_price, btc.exit_price, btc.quantity) == (D("65001"), D("66000"), D("0.01"))
    # 0.01 × (66000 − 65001) less the taker fees 0.01 × 65001 × 0.0004 + 0.01 × 66000 × 0.0004
    assert btc.fees == D("0.524004")
    assert btc.pnl == D("9.465996")
    assert btc.duration.total_seconds() == 3600
    assert eth.pnl == D("3400.00") - D("3500.10") - (D("3500.10") + D("3400.00")) * D("0.0004")
    # The open short is no closed trade; the books agree with the trades and the fills.
    book = StrategyPosition.objects.get(strategy=history, symbol="BTCUSDT")
    assert book.quantity == D("-0.01")
    assert book.realized_pnl == btc.pnl - D("66000") * D("0.01") * D("0.0004")


def test_pnl_per_day_week_month_symbol_agrees_with_the_database_to_the_cent(paper, history):
    fills = Fill.objects.filter(exchange="paper")
    total = net(fills)
    assert performance.pnl_total(exchange_name="paper")["realized"] == total
    assert total == sum(r.realized_net for r in RealizedPnlHour.objects.all())
    days = performance.pnl_by_period(exchange_name="paper", period="day")
    assert len(days) == 2 and sum(d["realized"] for d in days) == total
    for day in days:
        same_day = fills.filter(executed_at__date=day["start"].date())
        assert day["realized"] == net(same_day) and day["fills"] == same_day.count()
    for period in ("week", "month"):
        rows = performance.pnl_by_period(exchange_name="paper", period=period)
        assert sum(r["realized"] for r in rows) == total
    symbols = {r["symbol"]: r["realized"] for r in performance.pnl_by_symbol(exchange_name="paper")}
    assert symbols == {s: net(fills.filter(symbol=s)) for s in ("BTCUSDT", "ETHUSDT")}
    curve = performance.cumulative_pnl(exchange_name="paper")
    assert curve[-1]["value"] == total


def test_pnl_per_strategy_is_each_books_own_and_a_range_counts_only_its_fills(
    paper, clock, history
):
    rows = {r["strategy_name"]: r for r in performance.pnl_by_strategy(exchange_name="paper")}
    book = StrategyPosition.objects.get(strategy=history)
    manual = net(Fill.objects.filter(strategy=None))
    assert rows["tech-btc"]["realized"] == book.realized_pnl
    assert rows["manual"]["realized"] == manual
    assert (rows["tech-btc"]["trades"], rows["tech-btc"]["wins"]) == (1, 1)
    assert (rows["manual"]["trades"], rows["manual"]["wins"]) == (0 + 1, 0)

    since = clock.now - performance.RANGES["1d"]  # day 2 only
    recent = {
        r["strategy_name"]: r
        for r in performance.pnl_by_strategy(exchange_name="paper", since=since)
    }
    assert recent["tech-btc"]["realized"] == -D("66000") * D("0.01") * D("0.0004")
    assert recent["tech-btc"]["trades"] == 0
    assert [t.symbol for t in performance.closed_trades(exchange_name="paper", since=since)] == [
        "ETHUSDT"
    ]


def test_the_api_serves_the_same_numbers(paper, clock, history, admin_user, time_machine):
    time_machine.move_to(clock.now)
    api = APIClient()
    api.force_authenticate(admin_user)
    body = api.get("/api/performance?range=all").json()
    fills = Fill.objects.filter(exchange="paper")
    assert D(body["totals"]["realized"]) == net(fills)
    assert [D(d["realized"]) for d in body["by_day"]] == [
        d["realized"] for d in performance.pnl_by_period(exchange_name="paper", period="day")
    ]
    by_strategy = {r["strategy_name"]: D(r["realized"]) for r in body["by_strategy"]}
    assert by_strategy["tech-btc"] == StrategyPosition.objects.get(strategy=history).realized_pnl
    assert D(body["cumulative"][-1]["value"]) == net(fills)

    trades = api.get("/api/trades?range=all").json()
    assert [(t["symbol"], D(t["pnl"])) for t in trades] == [
        (t.symbol, t.pnl) for t in performance.closed_trades(exchange_name="paper")
    ]
    assert trades[1]["duration_seconds"] == 3600
    only_btc = api.get(f"/api/trades?range=all&strategy={history.pk}").json()
    assert [t["symbol"] for t in only_btc] == ["BTCUSDT"]
    assert api.get("/api/performance?range=2y").status_code == 400


def test_the_performance_page_answers_how_the_desk_is_doing(
    paper, clock, history, client, user, time_machine
):
    time_machine.move_to(clock.now)
    client.force_login(user)
    page = client.get("/performance/?range=all").content.decode()
    btc = performance.closed_trades(exchange_name="paper")[1]
    assert "data-closed-trades" in page and page.count("data-trade>") == 2
    assert f"+{btc.pnl.quantize(D('0.01'))}" in page
    assert 'data-strategy-row="manual"' in page and 'data-symbol-row="ETHUSDT"' in page
    assert 'id="pnl-chart-data"' in page
    assert 'aria-current="page" data-range="all"' in page
    assert Position.objects.filter(symbol="BTCUSDT").get().quantity == D("-0.01")
