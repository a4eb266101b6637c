"""What each role sees on the dashboard: a viewer's pages hold no enabled control that
changes anything; a trader's hold the trading buttons, a risk manager's the kill switch."""

from __future__ import annotations

from decimal import Decimal
from html.parser import HTMLParser

import pytest

from tests.conftest import user_with_roles
from tests.factories import OrderFactory, PositionFactory, StrategyConfigFactory
from trading.models import OrderStatus

pytestmark = pytest.mark.django_db

PAGES = [
    "/",
    "/orders/",
    "/orders/{order}/",
    "/strategies/{strategy}/",
    "/market/BTCUSDT/",
    "/backtests/",
    "/performance/",
    "/activity/",
    "/audit/",
]


class Controls(HTMLParser):
    """Every form (method, action) and every enabled button with the form around it."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, str]] = []
        self.enabled_buttons: list[tuple[str, str, dict]] = []
        self._form: tuple[str, str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._form = ((attrs.get("method") or "get").lower(), attrs.get("action") or "")
            self.forms.append(self._form)
        elif tag in ("button", "input", "select", "textarea") and "disabled" not in attrs:
            if tag == "input" and attrs.get("type") not in ("submit", "button", "image"):
                return
            method, action = self._form or ("none", "")
            self.enabled_buttons.append((method, action, attrs))

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None


def controls(client, url: str) -> Controls:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    parser = Controls()
    parser.feed(response.content.decode())
    return parser


@pytest.fixture
def desk():
    strategy = StrategyConfigFactory(is_active=True)
    order = OrderFactory(strategy=strategy, status=OrderStatus.OPEN)
    PositionFactory(quantity=Decimal("0.5"))  # its Close… button
    return {"order": order.pk, "strategy": strategy.pk}


def _changes_something(method: str, action: str, attrs: dict) -> bool:
    if method == "get" or action == "/accounts/logout/":
        return False  # filters, chart controls; logging oneself out
    # Outside a form: only a button that opens a dialog could lead to a change.
    return method != "none" or "data-open-dialog" in attrs


@pytest.mark.parametrize("url", PAGES)
def test_a_viewers_page_has_no_enabled_control_that_changes_anything(client, desk, url):
    client.force_login(user_with_roles("watcher", "viewer"))
    found = controls(client, url.format(**desk))
    post_forms = [f for f in found.forms if f[0] == "post" and f[1] != "/accounts/logout/"]
    assert post_forms == [], post_forms
    changing = [b for b in found.enabled_buttons if _changes_something(*b)]
    assert changing == [], changing


def test_a_viewer_sees_strategy_switches_disabled_and_no_kill_switch(client, desk):
    client.force_login(user_with_roles("watcher", "viewer"))
    html = client.get("/").content.decode()
    assert 'class="switch" role="switch" disabled' in html
    assert "kill-switch-engage" not in html


def test_a_traders_pages_hold_the_trading_buttons_but_not_the_kill_switch(client, desk):
    client.force_login(user_with_roles("dealer", "trader"))
    overview = controls(client, "/")
    assert ("post", f"/strategies/{desk['strategy']}/toggle/") in overview.forms
    assert ("post", "/risk/kill-switch/") not in overview.forms
    assert any(action.startswith("/positions/") for _, action in overview.forms)
    order_page = controls(client, f"/orders/{desk['order']}/")
    assert ("post", f"/orders/{desk['order']}/cancel/") in order_page.forms
    assert any(f[0] == "post" for f in controls(client, "/backtests/").forms)


def test_a_risk_manager_holds_the_kill_switch_but_not_the_trading_buttons(client, desk):
    client.force_login(user_with_roles("guard", "risk"))
    overview = controls(client, "/")
    assert ("post", "/risk/kill-switch/") in overview.forms
    assert ("post", f"/strategies/{desk['strategy']}/toggle/") not in overview.forms
    order_page = controls(client, f"/orders/{desk['order']}/")
    assert ("post", f"/orders/{desk['order']}/cancel/") not in order_page.forms
