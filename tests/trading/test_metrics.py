"""`/metrics`: refused without the token or an allowed address; after ticks and orders
its counters have moved by exactly what happened."""

from __future__ import annotations

import json
import re
import urllib.request
from decimal import Decimal as D

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exchanges.errors import ExchangeError
from tests.conftest import ROOT
from tests.factories import StrategyConfigFactory
from trading.models import OrderSource, OrderStatus, Position, RealizedPnlHour
from trading.services.orders import SendNow, order_place
from trading.services.strategy_manager import StrategyManager
from trading.services.tick import tick_run
from trading.strategies.base import OrderIntent
from xquant.celery import app as celery_app
from xquant.metrics import exporter_start

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-the-tests-0123456789"


@pytest.fixture
def scraper(client, settings):
    settings.METRICS_TOKEN = TOKEN

    def scrape() -> dict[tuple[str, tuple], float]:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        return samples(response.content.decode())

    return scrape


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def moved(before: dict, after: dict, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_anonymous_and_wrongly_authorised_scrapes_are_refused(client, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = []

    assert client.get("/metrics").status_code == 403
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
    assert wrong.status_code == 403
    assert b"xquant_" not in wrong.content


def test_with_no_token_and_no_allow_list_nobody_may_scrape(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = []
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403


def test_an_address_on_the_allow_list_may_scrape_without_a_token(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = ["10.1.0.0/16", "127.0.0.1"]
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    assert b"xquant_ticks_total" in response.content
    assert client.get("/metrics", REMOTE_ADDR="10.2.0.1").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="10.1.200.3").status_code == 200


def test_ticks_and_orders_move_the_counters_by_what_happened(scraper, paper, clock):
    before = scraper()
    StrategyConfigFactory(
        name="twap-btc",
        kind="twap",
        symbol="BTCUSDT",
        params={"side": "BUY", "total_quantity": "0.004", "slices": 2, "interval_seconds": 60},
    )
    manager = StrategyManager(paper)
    for _ in range(3):
        tick_run(symbol="BTCUSDT", exchange=paper, manager=manager, submit=SendNow(paper))
        clock.advance(60)
    # A manual order a risk guard refuses: final status rejected, no exchange call.
    refused = order_place(
        intent=OrderIntent(key="", symbol="BTCUSDT", side="BUY", quantity=D("1")),
        exchange=paper,
        source=OrderSource.API,
    )
    assert refused.status == OrderStatus.REJECTED

    after = scraper()
    assert moved(before, after, "xquant_ticks_total", symbol="BTCUSDT") == 3
    assert moved(before, after, "xquant_tick_errors_total", symbol="BTCUSDT") == 0
    assert moved(before, after, "xquant_tick_duration_seconds_count", symbol="BTCUSDT") == 3
    assert moved(before, after, "xquant_tick_duration_seconds_sum", symbol="BTCUSDT") > 0
    assert after[("xquant_orders_total", (("source", "strategy"), ("status", "filled")))] == 2
    assert after[("xquant_orders_total", (("source", "api"), ("status", "rejected")))] == 1
    assert (
        moved(before, after, "xquant_exchange_attempts_total", action="submit", outcome="accepted")
        == 2
    )
    position = Position.objects.get(exchange="paper", symbol="BTCUSDT")
    notional = float(abs(position.quantity) * position.mark_price)
    key = (("exchange", "paper"), ("position_side", "BOTH"), ("symbol", "BTCUSDT"))
    assert after[("xquant_open_position_notional", key)] == pytest.approx(notional)
    assert after[("xquant_unrealized_pnl", (("exchange", "paper"),))] == pytest.approx(
        float(position.unrealized_pnl)
    )
    realized = sum(r.realized_net for r in RealizedPnlHour.objects.filter(exchange="paper"))
    assert realized < 0  # the fees of two buys
    assert after[("xquant_realized_pnl_today", (("exchange", "paper"),))] == pytest.approx(
        float(realized)
    )


def test_a_tick_without_market_data_counts_as_a_tick_error(scraper, paper, monkeypatch):
    def no_book(symbol):
        raise ExchangeError("book unavailable")

    monkeypatch.setattr(paper, "market_snapshot", no_book)
    before = scraper()
    result = tick_run(
        symbol="ETHUSDT", exchange=paper, manager=StrategyManager(paper), submit=SendNow(paper)
    )
    after = scraper()

    assert result.error
    assert moved(before, after, "xquant_ticks_total", symbol="ETHUSDT") == 1
    assert moved(before, after, "xquant_tick_errors_total", symbol="ETHUSDT") == 1


def test_the_exporter_of_runtrader_and_workers_serves_this_process_metrics():
    server = exporter_start(port=0, addr="127.0.0.1")
    try:
        host, port = server.server_address[:2]
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as response:
            body = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
    assert "xquant_ticks_total" in body or "xquant_tick_duration_seconds" in body
    assert "xquant_orders_total" not in body  # the database-derived ones: web only


def test_the_exchange_clock_offset_is_the_last_one_measured(scraper, binance_exchange):
    offset_ms = binance_exchange.sync_time()
    served = scraper()
    key = ("xquant_exchange_clock_offset_seconds", (("exchange", "binance"),))
    assert served[key] == pytest.approx(offset_ms / 1000)


def test_every_series_the_grafana_dashboard_plots_is_served(
    paper, client, settings, binance_exchange
):
    """The dashboard in monitoring/ names metrics this code really exposes."""
    settings.METRICS_TOKEN = TOKEN
    binance_exchange.sync_time()
    tick_run(
        symbol="BTCUSDT", exchange=paper, manager=StrategyManager(paper), submit=SendNow(paper)
    )
    client.get("/accounts/login/")
    text = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    served = set()
    for family in text_string_to_metric_families(text):  # with samples or not yet
        served |= {family.name, f"{family.name}_total"} | {s.name for s in family.samples}
    dashboard = json.loads((ROOT / "monitoring/grafana/dashboards/xquant.json").read_text())

    plotted = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\b(?:xquant|django)_\w+", target["expr"])
    }
    assert len(plotted) >= 10
    assert plotted - served == set()


def test_the_celery_queue_length_counts_the_tasks_waiting_for_a_worker(scraper):
    celery_app.control.purge()
    try:
        for _ in range(3):
            celery_app.send_task("notifications.check_stale")
        served = scraper()
    finally:
        celery_app.control.purge()
    assert served[("xquant_celery_queue_length", (("queue", "celery"),))] == 3


def test_database_queries_are_counted_and_timed_per_database(scraper):
    from django.db import connection

    from trading.models import Order

    before = scraper()
    for _ in range(3):
        list(Order.objects.all())
    after = scraper()
    labels = {"alias": "default", "vendor": connection.vendor}
    # Three reads, and whatever the first scrape's request wrote meanwhile.
    assert moved(before, after, "django_db_execute_total", **labels) >= 3
    assert moved(before, after, "django_db_query_duration_seconds_count", **labels) >= 3
