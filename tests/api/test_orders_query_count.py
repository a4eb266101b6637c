"""GET /api/orders over 100,000 orders: a page costs a fixed number of queries (no N+1)
and the page query walks an index instead of scanning the table."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import StrategyConfigFactory
from trading.models import Order
from trading.selectors import order_list

pytestmark = pytest.mark.django_db

ROWS = 100_000
COLUMNS = (
    "client_order_id",
    "exchange",
    "symbol",
    "side",
    "order_type",
    "position_side",
    "reduce_only",
    "time_in_force",
    "quantity",
    "price",
    "status",
    "filled_quantity",
    "strategy_id",
    "source",
    "intent_key",
    "reason",
    "error_code",
    "error_message",
    "attempt_count",
    "strategy_update_pending",
    "created_at",
    "updated_at",
)
STATUSES = ("open", "filled", "canceled", "rejected")


@pytest.fixture
def hundred_thousand_orders():
    """100k orders over 10 strategies, 2 symbols, 4 statuses, one per second, by COPY."""
    strategies = [StrategyConfigFactory(name=f"s{i}").pk for i in range(10)]
    start = timezone.now() - timedelta(seconds=ROWS)
    with connection.connection.cursor() as cursor:
        copy_sql = f"COPY trading_order ({', '.join(COLUMNS)}) FROM STDIN"
        with cursor.copy(copy_sql) as copy:
            for i in range(ROWS):
                status = STATUSES[i % 4]
                strategy = strategies[i % 10] if i % 3 else None
                at = start + timedelta(seconds=i)
                copy.write_row(
                    (
                        f"xq{uuid.uuid4().hex[:30]}",
                        "paper",
                        "BTCUSDT" if i % 2 else "ETHUSDT",
                        "BUY" if i % 5 else "SELL",
                        "LIMIT",
                        "BOTH",
                        False,
                        "GTC",
                        "0.010",
                        "65000",
                        status,
                        "0.010" if status == "filled" else "0",
                        strategy,
                        "strategy" if strategy else "api",
                        f"k{i}" if strategy else "",
                        "",
                        "",
                        "",
                        1,
                        False,
                        at,
                        at,
                    )
                )
        cursor.execute("ANALYZE trading_order")
    assert Order.objects.count() == ROWS
    return strategies


QUERIES = (
    "",
    "?symbol=BTCUSDT",
    "?status=open&status=filled",
    "?strategy={strategy}",
    "?symbol=ETHUSDT&side=SELL&page=3&page_size=50",
)


# One test, because inserting the 100k rows is what takes the time.
def test_a_page_of_50_of_100k_orders_costs_two_order_queries_and_walks_an_index(
    api, hundred_thousand_orders
):
    for query in QUERIES:
        url = "/api/orders" + query.format(strategy=hundred_thousand_orders[3])
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = api.get(url)
            elapsed = time.perf_counter() - started

        assert response.status_code == 200, response.json()
        body = response.json()
        assert len(body["results"]) == 50
        assert body["count"] > 50
        assert any(row["strategy_name"] for row in body["results"])
        # The client's role (one read of its permissions), then one COUNT for the
        # paginator and one SELECT for the page, with the strategy's name joined in: the
        # same whatever the page holds.
        assert len(queries) == 3, [q["sql"] for q in queries.captured_queries]
        role_sql, count_sql, page_sql = (q["sql"] for q in queries.captured_queries)
        assert "auth_permission" in role_sql
        assert count_sql.startswith("SELECT COUNT(*)")
        assert "LIMIT 50" in page_sql
        print(f"GET {url}: {len(queries)} queries, {elapsed * 1000:.0f} ms")

    plans = {
        "newest": order_list()[:50].explain(),
        "by symbol": order_list().filter(symbol="BTCUSDT")[:50].explain(),
        "by status": order_list().filter(status__in=["open", "filled"])[:50].explain(),
        "by strategy": order_list().filter(strategy_id=hundred_thousand_orders[3])[:50].explain(),
    }
    for name, plan in plans.items():
        print(name, plan, sep="\n")
        assert "Seq Scan on trading_order" not in plan, (name, plan)
        assert "Index" in plan, (name, plan)
    assert "order_created" in plans["newest"], plans["newest"]
