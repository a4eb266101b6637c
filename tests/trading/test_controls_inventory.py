"""Every control on every dashboard page has a test that uses it.

The pages are rendered with enough data for all their buttons to show; every form found
(its action, or the page itself for a GET form) must be in COVERED with the tests that
submit it, and those tests must exist. A new button without a test fails here."""

from __future__ import annotations

import importlib
import re
from decimal import Decimal as D
from html.parser import HTMLParser

import pytest
from django.urls import resolve

from prediction.models import BacktestRun, BacktestStatus
from prediction.research.models import ResearchStatus, Study
from tests.factories import StrategyConfigFactory
from trading.models import OrderSource
from trading.services.orders import order_place
from trading.strategies.base import OrderIntent

pytestmark = pytest.mark.django_db

BROWSER = "tests.trading.test_dashboard_browser"
#: URL name a form posts (or, for a GET form, the page's) -> tests that use it.
COVERED = {
    "logout": ["tests.test_site_basics.test_logging_out_from_the_top_bar_ends_the_session"],
    "trading:kill-switch": [
        f"{BROWSER}.test_kill_switch_engages_and_releases_from_the_overview_dialogs_and_a_twap_resumes",
        "tests.trading.test_dashboard_actions.test_releasing_the_kill_switch_needs_a_reason_and_publishes_it",
    ],
    "trading:strategy-toggle": [
        f"{BROWSER}.test_overview_updates_live_persists_a_toggle_and_catches_up_after_a_reconnect",
        "tests.trading.test_dashboard_actions.test_switching_a_strategy_off_persists_it_and_publishes_the_toggle",
    ],
    "trading:position-close": [
        f"{BROWSER}.test_a_position_is_closed_from_the_overview_after_its_confirmation",
        "tests.trading.test_position_close.test_the_overview_close_button_shows_what_it_will_send_and_closes",
    ],
    "trading:order-place": [
        f"{BROWSER}.test_an_order_is_placed_after_its_review_and_cancelled_from_the_orders_page",
        "tests.trading.test_dashboard_orders.test_place_order_shows_what_it_will_send_then_sends_it",
    ],
    "trading:orders-cancel-open": [
        f"{BROWSER}.test_an_order_is_placed_after_its_review_and_cancelled_from_the_orders_page",
        "tests.trading.test_dashboard_orders.test_cancel_open_orders_by_symbol_by_strategy_or_all",
    ],
    "trading:order-cancel": [
        "tests.trading.test_dashboard_actions.test_cancelling_an_open_order_from_its_page_cancels_it_and_shows_it_as_a_note",
    ],
    "trading:orders": [
        "tests.trading.test_dashboard_pages.test_orders_filter_by_symbol_status_strategy_side_and_dates",
    ],
    "trading:activity": [
        "tests.trading.test_activity.test_the_activity_page_shows_and_filters_the_feed",
    ],
    "trading:market": [
        "tests.trading.test_research_pages.test_market_chart_data_follows_the_controls",
    ],
    "trading:backtests": [
        f"{BROWSER}.test_market_chart_moves_live_and_a_backtest_runs_from_the_form",
        "tests.trading.test_research_pages.test_running_a_backtest_from_the_form_stores_it_and_shows_its_results",
    ],
    "research:studies": [
        "tests.research.test_study_browser.test_a_study_is_started_watched_and_becomes_an_inactive_strategy",
        "tests.research.test_pages.test_the_form_starts_a_study_and_its_page_shows_every_result",
    ],
    "research:study-strategy": [
        "tests.research.test_study_browser.test_a_study_is_started_watched_and_becomes_an_inactive_strategy",
        "tests.research.test_pages.test_the_button_creates_an_inactive_strategy_and_opens_it",
    ],
    "research:study-walkforward": [
        "tests.research.test_pages.test_the_form_starts_a_study_and_its_page_shows_every_result",
    ],
    "trading:backtest-compare": [
        f"{BROWSER}.test_two_backtests_are_picked_and_compared",
        "tests.trading.test_backtest_compare.test_two_runs_are_overlaid_as_returns_and_their_metrics_put_side_by_side",
    ],
}


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "form":
            attrs = dict(attrs)
            self.forms.append(((attrs.get("method") or "get").lower(), attrs.get("action") or ""))


@pytest.fixture
def desk(registry_paper, user):
    strategy = StrategyConfigFactory(name="twap-btc", symbol="BTCUSDT", is_active=True)
    bid = registry_paper.market_snapshot("BTCUSDT").bid
    order = order_place(  # resting: a cancel button, a working order
        intent=OrderIntent(
            key="",
            symbol="BTCUSDT",
            side="BUY",
            quantity=D("0.002"),
            order_type="LIMIT",
            price=(bid * D("0.8")).quantize(D("0.1")),
        ),
        exchange=registry_paper,
        source=OrderSource.API,
    )
    order_place(  # filled: an open position, a close button
        intent=OrderIntent(key="", symbol="BTCUSDT", side="BUY", quantity=D("0.002")),
        exchange=registry_paper,
        source=OrderSource.API,
    )
    run = BacktestRun.objects.create(
        engine="vectorised",
        strategy="trend_following",
        symbol="BTCUSDT",
        timeframe="1h",
        status=BacktestStatus.FINISHED,
        metrics={"total_return": 0.1},
        equity_curve=[["2024-01-01T00:00:00+00:00", 1000], ["2024-01-01T01:00:00+00:00", 1100]],
    )
    study = Study.objects.create(
        strategy="trend_following",
        engine="vectorised",
        symbol="BTCUSDT",
        timeframe="1h",
        space={"fast": {"type": "int", "low": 5, "high": 10, "step": 5}},
        objective="sharpe",
        sampler="grid",
        n_trials=2,
        trials_done=2,
        optuna_name="inventory-study",
        status=ResearchStatus.FINISHED,
        results={"best": [{"number": 0, "value": 1.0, "params": {"fast": 5}, "metrics": {}}]},
    )
    return {
        "/research/studies/": None,
        f"/research/studies/{study.pk}/": None,
        "/": None,
        "/orders/": None,
        f"/orders/{order.pk}/": None,
        f"/strategies/{strategy.pk}/": None,
        "/performance/": None,
        "/activity/": None,
        "/market/BTCUSDT/": None,
        "/backtests/": None,
        f"/backtests/{run.pk}/": None,
        f"/backtests/compare/?runs={run.pk}": None,
    }


def _test_exists(dotted: str) -> bool:
    module, _, name = dotted.rpartition(".")
    return callable(getattr(importlib.import_module(module), name, None))


def test_every_form_on_every_page_is_used_by_a_test(desk, client):
    from tests.conftest import user_with_roles

    # Every control is on the page only for a role that may use it: trader and risk.
    client.force_login(user_with_roles("inventory", "trader", "risk"))
    found: dict[str, set[str]] = {}
    for url in desk:
        response = client.get(url)
        assert response.status_code == 200, url
        parser = _Forms()
        parser.feed(response.content.decode())
        for method, action in parser.forms:
            target = action or url.split("?")[0]
            match = resolve(target)
            name = f"{match.namespace}:{match.url_name}" if match.namespace else match.url_name
            found.setdefault(name, set()).add(f"{method.upper()} on {url}")
    uncovered = {name: pages for name, pages in found.items() if name not in COVERED}
    assert not uncovered, f"forms without a test (add one and list it in COVERED): {uncovered}"
    missing = [t for tests in COVERED.values() for t in tests if not _test_exists(t)]
    assert not missing, f"COVERED names tests that do not exist: {missing}"
    # The inventory itself is not stale: every covered control is still on a page.
    assert set(COVERED) <= set(found), set(COVERED) - set(found)
    assert all(re.fullmatch(r"[\w:-]+", name) for name in found)
