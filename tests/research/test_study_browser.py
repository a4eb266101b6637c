"""A study from the dashboard in a real browser: `manage.py serve` (embedded: the study's
trials run in the server's process) on the test's PostgreSQL and Redis, Debian's
chromium through Playwright. Start a small study, watch its progress arrive live, open
its results and turn the best parameters into an inactive strategy."""

from __future__ import annotations

import json
import re

import pytest

from prediction.research.models import Study
from tests.conftest import user_with_roles
from tests.trading.test_dashboard_browser import (  # noqa: F401 - fixtures
    ARTIFACTS,
    PASSWORD,
    WAIT_MS,
    browser_page,
    off_loop,
    server,
)
from trading.models import StrategyConfig

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.timeout(180),
    pytest.mark.django_db(transaction=True),
]

SPACE = {
    "fast": {"type": "int", "low": 5, "high": 40},
    "slow": {"type": "int", "low": 50, "high": 200},
}


def test_a_study_is_started_watched_and_becomes_an_inactive_strategy(server, browser_page):  # noqa: F811
    off_loop(user_with_roles, "e2e", "trader", password=PASSWORD)
    page = browser_page
    page.goto(f"{server.url}/accounts/login/?next=/research/studies/")
    page.fill("#id_username", "e2e")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/research/studies/")

    form = page.locator("[data-study-form]")
    form.locator("#id_strategy").select_option("trend_following")
    form.locator("#id_timeframe").select_option("1h")
    form.locator("#id_space").fill(json.dumps(SPACE))
    form.locator("#id_fixed_params").fill('{"ma_type": "sma"}')
    form.locator("#id_sampler").select_option("random")
    form.locator("#id_n_trials").fill("60")
    form.locator("#id_seed").fill("5")
    form.locator("#id_min_trades").fill("1")
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/research/studies/\d+/$"))
    study_id = int(page.url.rstrip("/").rsplit("/", 1)[1])

    # Progress arrives over the websocket while the trials run: the bar moves and the
    # count goes up before the study has finished.
    page.wait_for_function(
        "() => { const n = Number(document.querySelector('[data-study-progress]')"
        "?.getAttribute('aria-valuenow')); return n > 0 && n < 100; }",
        timeout=WAIT_MS * 3,
    )
    page.screenshot(path=str(ARTIFACTS / "study-running.png"))
    # Finished: the fragment is refreshed with the results, no reload.
    page.wait_for_selector("[data-best-trials]", timeout=WAIT_MS * 4)
    assert page.locator("[data-study-status]").inner_text() == "Finished"
    assert page.locator("[data-study-progress-text]").inner_text() == "60 of 60 trials"
    assert page.locator("[data-best-trials] tr[data-trial]").count() >= 1
    assert page.locator("[data-heatmap] td").count() > 0
    assert "After accounting for" in page.locator("[data-dsr-reading]").inner_text()
    assert "in-sample/out-of-sample splits" in page.locator("[data-pbo-reading]").inner_text()
    assert page.locator("[data-importance] code").count() == 2
    page.screenshot(path=str(ARTIFACTS / "study-finished.png"), full_page=True)

    study = off_loop(Study.objects.get, pk=study_id)
    best = study.results["best"][0]["params"]
    page.locator("[data-create-strategy] input[name=quantity]").fill("0.002")
    page.locator("[data-create-strategy] button[type=submit]").click()
    page.wait_for_url(re.compile(r"/strategies/\d+/$"))
    assert "switched off" in page.content()
    strategy = off_loop(StrategyConfig.objects.get)
    assert strategy.is_active is False
    assert (strategy.kind, strategy.symbol) == ("technical", "BTCUSDT")
    assert strategy.params["fast_period"] == best["fast"]
    assert strategy.params["slow_period"] == best["slow"]
    assert strategy.params["quantity"] == "0.002"
