"""Every page works under the Content-Security-Policy: Debian's chromium (Playwright)
opens each dashboard page, the admin, Swagger UI and the browsable API with the policy
the server sends, and no violation is reported — neither a `securitypolicyviolation`
event nor a console message about the policy."""

from __future__ import annotations

from decimal import Decimal

import pytest

from prediction.models import BacktestRun
from tests.conftest import user_with_roles
from tests.factories import OrderFactory
from tests.trading.test_dashboard_browser import (  # noqa: F401  (fixtures)
    PASSWORD,
    browser_page,
    server,
)
from trading.models import OrderStatus
from trading.services.strategies import strategy_config_create

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.timeout(150),
    pytest.mark.django_db(transaction=True),
]

WATCH_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture
def desk(django_user_model):
    user_with_roles("e2e", "trader", "risk", "admin", password=PASSWORD, is_staff=True)
    strategy = strategy_config_create(
        name="CSP TWAP",
        kind="twap",
        symbol="BTCUSDT",
        params={"side": "BUY", "total_quantity": "1", "slices": 100, "interval_seconds": 60},
        is_active=False,
    )
    order = OrderFactory(strategy=strategy, status=OrderStatus.OPEN, quantity=Decimal("0.01"))
    run = BacktestRun.objects.create(
        engine="vectorised", strategy="trend_following", symbol="BTCUSDT", timeframe="1h"
    )
    return {"strategy": strategy.pk, "order": order.pk, "run": run.pk}


def test_no_page_breaks_the_content_security_policy(server, desk, browser_page):  # noqa: F811
    page = browser_page
    console: list[str] = []
    page.on(
        "console",
        lambda message: (
            console.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    page.add_init_script(WATCH_VIOLATIONS)

    page.goto(f"{server.url}/accounts/login/?next=/")
    page.fill("#id_username", "e2e")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/")

    paths = [
        "/",
        "/orders/",
        f"/orders/{desk['order']}/",
        f"/strategies/{desk['strategy']}/",
        "/market/BTCUSDT/",
        "/backtests/",
        f"/backtests/{desk['run']}/",
        "/audit/",
        "/admin/",
        "/admin/trading/order/",
        "/admin/trading/strategyconfig/",
        f"/admin/trading/strategyconfig/{desk['strategy']}/change/",
        "/api/docs/",
        "/api/orders",
    ]
    violations: dict[str, list[str]] = {}
    for path in paths:
        response = page.goto(f"{server.url}{path}")
        assert response is not None and response.status == 200, (path, response and response.status)
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy, (path, policy)
        page.wait_for_load_state("load")
        if path == "/api/docs/":
            page.wait_for_selector(".swagger-ui .info", timeout=15_000)  # its script ran
        if path.startswith("/market/"):
            page.wait_for_selector("canvas", timeout=15_000)  # the chart drew
        page.wait_for_timeout(500)
        found = page.evaluate("window.__csp") + console
        console.clear()
        if found:
            violations[path] = found
    assert not violations, violations
