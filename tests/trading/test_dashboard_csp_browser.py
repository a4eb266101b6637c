"""Every page works under the Content-Security-Policy: Debian's chromium (Playwright)
opens each dashboard page, the admin, Swagger UI and the browsable API with the policy
the server sends, and no violation is reported — neither a `securitypolicyviolation`
event nor a console message about the policy."""

from __future__ import annotations

import tempfile
from decimal import Decimal

import pytest
from playwright.sync_api import sync_playwright

from prediction.models import BacktestRun
from prediction.research.models import ResearchStatus, Study, WalkForward
from tests.conftest import user_with_roles
from tests.factories import OrderFactory
from tests.trading.test_dashboard_browser import (  # noqa: F401  (the server fixture)
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    WAIT_MS,
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
def policed_page():
    """A chromium page that obeys the policy (the suite's other browser test bypasses it
    for its own evaluated predicates); JavaScript errors fail the test."""
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tempfile.mkdtemp(prefix="xquant-chromium-csp-"),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1366, "height": 900},
        )
        context.set_default_timeout(WAIT_MS)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
        context.close()
        assert not errors, f"JavaScript errors on the page: {errors}"


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
        optuna_name="csp-study",
        status=ResearchStatus.FINISHED,
        results={
            "best": [{"number": 0, "value": 1.0, "params": {"fast": 5, "slow": 50}, "metrics": {}}],
            "importance": {"fast": 0.7, "slow": 0.3},
            "heatmap": {
                "x": "fast",
                "y": "slow",
                "x_labels": ["5"],
                "y_labels": ["50"],
                "values": [[1.0]],
            },
        },
    )
    WalkForward.objects.create(
        strategy="trend_following",
        engine="vectorised",
        symbol="BTCUSDT",
        timeframe="1h",
        space=study.space,
        objective="sharpe",
        sampler="grid",
        n_trials=2,
        mode="rolling",
        windows=1,
        oos_fraction=0.25,
        study=study,
        status=ResearchStatus.FINISHED,
        results={
            "windows": [],
            "summary": {},
            "stitched": [
                ["2024-01-01T00:00:00+00:00", 100.0],
                ["2024-01-01T01:00:00+00:00", 101.0],
            ],
        },
    )
    return {"strategy": strategy.pk, "order": order.pk, "run": run.pk, "study": study.pk}


def test_no_page_breaks_the_content_security_policy(server, desk, policed_page):  # noqa: F811
    page = policed_page
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
        "/performance/",
        "/activity/",
        "/research/studies/",
        f"/research/studies/{desk['study']}/",
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
        if path.startswith("/market/") or (
            path.startswith("/research/studies/") and (path != "/research/studies/")
        ):
            page.wait_for_selector("canvas", timeout=15_000)  # the chart drew
        page.wait_for_timeout(500)
        found = page.evaluate("window.__csp") + console
        console.clear()
        if found:
            violations[path] = found
    assert not violations, violations
