"""The dashboard pages render what the database holds, and each live fragment renders alone."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.factories import FillFactory, OrderFactory, PositionFactory, StrategyConfigFactory
from trading.models import OrderAttempt, OrderStatus, StrategyPosition, TraderHeartbeat
from trading.selectors import risk_limits_get

pytestmark = pytest.mark.django_db

PAGES = ["/", "/orders/", "/orders/{order}/", "/strategies/{strategy}/", "/?fragment=orders"]


@pytest.fixture
def trader(client, user):
    client.force_login(user)
    return client


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def rows(html: str, attribute: str) -> list[str]:
    return re.findall(rf'<tr {attribute}="(\d+)"', html)


@pytest.mark.parametrize("url", PAGES)
def test_every_page_requires_login(client, url):
    order = OrderFactory()
    strategy = StrategyConfigFactory()
    response = client.get(url.format(order=order.pk, strategy=strategy.pk))
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_overview_shows_health_per_symbol_and_marks_a_stale_trader(trader, settings):
    settings.TRADING_SYMBOLS = ["BTCUSDT", "ETHUSDT"]
    settings.TICK_SECONDS = 5
    now = timezone.now()
    TraderHeartbeat.objects.create(
        symbol="BTCUSDT", last_tick_at=now, last_tick_ms=Decimal("12"), last_mid=Decimal("65000")
    )
    TraderHeartbeat.objects.create(
        symbol="ETHUSDT",
        last_tick_at=now - timedelta(minutes=5),
        last_tick_ms=Decimal("9"),
        last_mid=Decimal("3400"),
    )
    html = page(trader, "/")
    health = html[html.index("<h2>Health</h2>") : html.index("<h2>Prices</h2>")]
    assert re.search(r'data-heartbeat="BTCUSDT">\s*<td><span class="dot ok">', health)
    assert re.search(r'data-heartbeat="ETHUSDT">\s*<td><span class="dot bad">', health)
    assert re.search(r'data-check="trader"><span class="dot bad">', health)
    assert "no recent tick for ETHUSDT" in health
    assert re.search(r'data-check="database"><span class="dot ok">', health)
    assert re.search(r'data-check="exchange"><span class="dot ok">', health)
    # Prices start from the trader's last mids; live events take over in the browser.
    assert 'data-price-symbol="BTCUSDT"' in html
    assert "65,000.00" in html
    assert "3,400.00" in html


def test_overview_health_says_which_dependency_fails(trader, settings):
    """The widget runs the same checks as GET /api/health: here Redis on a port where
    nothing listens."""
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    html = page(trader, "/?fragment=health")
    assert re.search(r'data-check="redis"><span class="dot bad">', html)
    assert "cannot connect to Redis" in html
    assert re.search(r'data-check="database"><span class="dot ok">', html)


def test_overview_todays_pnl_counts_fills_since_the_day_reset_net_of_fees(trader, settings):
    settings.EXCHANGE = "paper"
    limits = risk_limits_get()
    limits.day_reset_hour_utc = 0
    limits.save()
    today = timezone.now()
    FillFactory(realized_pnl=Decimal("30.00"), fee=Decimal("1.50"), executed_at=today)
    FillFactory(realized_pnl=Decimal("-10.00"), fee=Decimal("0.50"), executed_at=today)
    FillFactory(
        realized_pnl=Decimal("500"), fee=Decimal("0"), executed_at=today - timedelta(days=2)
    )
    PositionFactory(
        quantity=Decimal("0.1"), entry_price=Decimal("60000"), unrealized_pnl=Decimal("-4.25")
    )
    html = page(trader, "/?fragment=pnl")
    assert re.search(r"data-pnl-realized>\+18\.00<", html)
    assert re.search(r"data-pnl-unrealized>−4\.25<", html)
    assert re.search(r'class="big pos" data-pnl-total>\+13\.75<', html)


def test_overview_daily_loss_bar_counts_the_loss_like_the_guard(trader, settings):
    from trading.models import RealizedPnlHour

    settings.EXCHANGE = "paper"
    RealizedPnlHour.objects.create(
        exchange="paper",
        hour=timezone.now().replace(minute=0, second=0, microsecond=0),
        realized_net=Decimal("-150"),
    )
    PositionFactory(
        quantity=Decimal("0.1"), entry_price=Decimal("60000"), unrealized_pnl=Decimal("-50")
    )
    html = page(trader, "/?fragment=pnl")
    assert "loss 200.00 of 2,000.00" in html
    assert 'aria-valuenow="10"' in html


def test_overview_lists_open_positions_with_their_pnl_and_not_flat_ones(trader, settings):
    settings.EXCHANGE = "paper"
    open_position = PositionFactory(
        symbol="BTCUSDT",
        quantity=Decimal("0.012"),
        entry_price=Decimal("64800.5"),
        mark_price=Decimal("65012.34"),
        unrealized_pnl=Decimal("2.54"),
    )
    PositionFactory(symbol="ETHUSDT", quantity=Decimal("0"))
    html = page(trader, "/?fragment=positions")
    assert rows(html, "data-position-id") == [str(open_position.pk)]
    assert 'data-field="unrealized_pnl" data-format="pnl">+2.54<' in html.replace(
        'class="num pos" ', ""
    )
    assert "64,800.50" in html


def test_overview_strategies_show_progress_pnl_and_a_switch(trader):
    strategy = StrategyConfigFactory(name="BTC TWAP", is_active=True)
    StrategyPosition.objects.create(
        strategy=strategy,
        exchange="paper",
        symbol="BTCUSDT",
        quantity=Decimal("0.004"),
        entry_price=Decimal("65000"),
        realized_pnl=Decimal("1.25"),
        unrealized_pnl=Decimal("0.50"),
    )
    html = page(trader, "/?fragment=strategies")
    assert "BTC TWAP" in html
    assert "Not started: 5 slices of 0.01 due every 60 s" in html
    assert "+1.75" in html
    assert f'action="/strategies/{strategy.pk}/toggle/"' in html
    assert 'name="active" value="false"' in html
    assert 'aria-checked="true"' in html


def test_a_fragment_renders_alone_and_is_never_cached(trader):
    order = OrderFactory(symbol="ETHUSDT")
    response = trader.get("/?fragment=orders")
    html = response.content.decode()
    assert "<html" not in html
    assert rows(html, "data-order-id") == [str(order.pk)]
    assert "no-cache" in response["Cache-Control"]


def test_an_unknown_fragment_is_not_found(trader):
    assert trader.get("/?fragment=nope").status_code == 404


def test_times_are_rendered_as_utc_iso_for_the_browser(trader):
    order = OrderFactory()
    html = page(trader, "/?fragment=orders")
    iso = order.created_at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert f'<time datetime="{iso}" data-ts="short"' in html


# --- Orders ------------------------------------------------------------------------------


def test_orders_filter_by_symbol_status_strategy_side_and_dates(trader):
    twap = StrategyConfigFactory(name="twap")
    match = OrderFactory(
        symbol="ETHUSDT", status=OrderStatus.OPEN, strategy=twap, source="strategy", side="SELL"
    )
    OrderFactory(symbol="BTCUSDT", status=OrderStatus.OPEN, strategy=twap, source="strategy")
    OrderFactory(symbol="ETHUSDT", status=OrderStatus.CANCELED, strategy=twap, source="strategy")
    OrderFactory(symbol="ETHUSDT", status=OrderStatus.OPEN, side="SELL")
    OrderFactory(symbol="ETHUSDT", status=OrderStatus.OPEN, strategy=twap, source="strategy")
    today = timezone.now().date()
    query = (
        f"symbol=ETHUSDT&status=open&strategy={twap.pk}&side=SELL"
        f"&created_from={today - timedelta(days=1)}&created_to={today}"
    )
    assert rows(page(trader, f"/orders/?{query}"), "data-order-id") == [str(match.pk)]
    # The whole of the end day counts; a range that ends yesterday finds nothing.
    yesterday = today - timedelta(days=1)
    html = page(trader, f"/orders/?symbol=ETHUSDT&created_to={yesterday}")
    assert rows(html, "data-order-id") == []
    assert "No orders match." in html


def test_orders_date_range_backwards_is_explained(trader):
    html = page(trader, "/orders/?created_from=2026-05-02&created_to=2026-05-01")
    assert "The end date is before the start date." in html


def test_orders_are_paginated_newest_first_and_pages_keep_the_filters(trader):
    for _ in range(120):
        OrderFactory(symbol="BTCUSDT")
    OrderFactory(symbol="ETHUSDT")
    first = page(trader, "/orders/?symbol=BTCUSDT")
    ids = rows(first, "data-order-id")
    assert len(ids) == 50
    assert ids == sorted(ids, key=int, reverse=True)
    assert "120 orders" in first
    assert 'href="?symbol=BTCUSDT&amp;page=2"' in first
    last = page(trader, "/orders/?symbol=BTCUSDT&page=3&fragment=table")
    assert len(rows(last, "data-order-id")) == 20
    assert "101–120 of 120" in last


def test_order_detail_shows_every_attempt_and_its_error(trader):
    order = OrderFactory(
        status=OrderStatus.REJECTED,
        error_code="-2019",
        error_message="Margin is insufficient.",
        attempt_count=2,
    )
    started = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    OrderAttempt.objects.create(
        order=order,
        number=1,
        action="submit",
        outcome="unknown",
        error_code="timeout",
        error_message="read timed out after 10 s",
        started_at=started,
        duration_ms=Decimal("10000.5"),
    )
    OrderAttempt.objects.create(
        order=order,
        number=2,
        action="lookup",
        outcome="not_found",
        started_at=started,
        duration_ms=Decimal("8.1"),
    )
    html = page(trader, f"/orders/{order.pk}/")
    assert "Margin is insufficient." in html
    assert "read timed out after 10 s" in html
    assert "Outcome unknown" in html
    assert "Look up by client order id" in html
    assert order.client_order_id in html


def test_order_detail_of_a_missing_order_is_not_found(trader):
    assert trader.get("/orders/999999/").status_code == 404


# --- Strategy ----------------------------------------------------------------------------


def test_strategy_detail_shows_params_progress_its_orders_and_pnl(trader):
    strategy = StrategyConfigFactory(
        name="BTC TWAP",
        state={
            "children": {"live": {}, "executed": "0.004", "failures": 0},
            "halted": None,
            "start": "2026-05-01T12:00:00+00:00",
            "slot": 1,
        },
    )
    own = OrderFactory(strategy=strategy, source="strategy", reason="TWAP slice 2/5")
    other = OrderFactory()
    StrategyPosition.objects.create(
        strategy=strategy,
        exchange="paper",
        symbol="BTCUSDT",
        quantity=Decimal("0.004"),
        entry_price=Decimal("65000"),
        realized_pnl=Decimal("-0.26"),
        fees_paid=Decimal("0.26"),
    )
    html = page(trader, f"/strategies/{strategy.pk}/")
    assert "2 of 5 slices sent · 0.004 of 0.01 executed" in html
    assert "40.0 % executed" in html
    assert "Total quantity" in html
    assert rows(html, "data-order-id") == [str(own.pk)]
    assert str(other.pk) not in rows(html, "data-order-id")
    assert "−0.26" in html


def test_strategy_detail_of_a_missing_strategy_is_not_found(trader):
    assert trader.get("/strategies/999999/").status_code == 404
