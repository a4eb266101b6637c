"""End to end in a real browser: `manage.py serve` (daphne + the embedded trader on the
paper exchange) as a subprocess on the test's PostgreSQL database and Redis, driven by
Debian's chromium through Playwright.

The trader ticks every half second; a TWAP strategy with one-second slices places an
order on most ticks, so "a new order appears live" needs no waiting on a clock.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import redis
from django.conf import settings
from django.db import connection
from playwright.sync_api import sync_playwright

from prediction.models import BacktestRun
from tests.conftest import user_with_roles
from trading.models import Order, StrategyConfig
from trading.services.strategies import strategy_config_create, strategy_config_set_active

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.timeout(150),
    pytest.mark.django_db(transaction=True),
]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
PASSWORD = "e2e-trader-pass-123"
#: Upper bound of any single wait in the browser (ms): ticks are every 0.5 s.
WAIT_MS = 20_000


def off_loop(function, *args, **kwargs):
    """Run a database or service call on a worker thread: Playwright's sync API keeps an
    asyncio loop in the test's thread, where Django refuses ORM calls and Channels cannot
    publish (async_to_sync). The thread's connection is closed before it ends."""

    def call():
        try:
            return function(*args, **kwargs)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    db = settings.DATABASES["default"]
    assert db["ENGINE"].endswith("postgresql"), "the browser test needs the PostgreSQL database"
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{credentials}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


class Server:
    """`manage.py serve` in its own process group, logging to test-artifacts/."""

    def __init__(self, port: int, log_path: Path):
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.env = {
            **os.environ,
            "XQUANT_ENV": "test",
            "XQUANT_ENV_FILE": "/nonexistent",
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            # Its own channel-layer prefix: no other test's events reach these pages.
            "CHANNELS_PREFIX": f"xquant-e2e-{port}",
            "EXCHANGE": "paper",
            "USE_MOCK": "false",
            "PAPER_FEED": "synthetic",
            "TRADING_SYMBOLS": "BTCUSDT,ETHUSDT",
            "TICK_SECONDS": "0.5",
            # Backtests run inside the server (no Celery worker in this test).
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "LOG_LEVEL": "INFO",
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.clear_tick_locks()
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=settings.BASE_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/accounts/login/", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        pytest.fail(f"the server did not answer within 30 s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
        self.clear_tick_locks()

    @staticmethod
    def clear_tick_locks() -> None:
        """A server stopped in the middle of a tick leaves its symbol's tick lock in Redis
        until it expires (trading.locks): a restarted server, or a later test, would skip
        that symbol meanwhile. No server is running when this is called."""
        client = redis.Redis.from_url(settings.REDIS_URL)
        keys = list(client.scan_iter("xquant:tick-lock:*"))
        if keys:
            client.delete(*keys)
        client.close()

    def wait_disconnected(self, timeout: float = 10) -> None:
        """Until PostgreSQL has ended the server's sessions: the flush after the test (and
        dropping the test database) must not find them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                if cursor.fetchone()[0] == 0:
                    return
            time.sleep(0.1)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture
def server(transactional_db):
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / "browser-test-server.log"
    log_path.write_text("")
    server = Server(free_port(), log_path)
    server.start()
    yield server
    # Stopped before the database is flushed under it.
    server.stop()
    server.wait_disconnected()


@pytest.fixture
def browser_page():
    assert Path(CHROMIUM).exists(), (
        "make test installs Debian's chromium (scripts/ensure_browser.sh)"
    )
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tempfile.mkdtemp(prefix="xquant-chromium-"),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1366, "height": 900},
            timezone_id="Asia/Tokyo",
            # The test's own wait_for_function predicates are evaluated strings, which the
            # Content-Security-Policy forbids; the pages' scripts are checked under the
            # policy by test_dashboard_csp_browser.py.
            bypass_csp=True,
        )
        context.set_default_timeout(WAIT_MS)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
        context.close()
        assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def trading_setup(django_user_model):
    user_with_roles("e2e", "trader", "risk", password=PASSWORD)
    busy = strategy_config_create(
        name="BTC TWAP e2e",
        kind="twap",
        symbol="BTCUSDT",
        # 0.002 BTC a slice: above the paper exchange's minimum notional of 100 USDT.
        params={"side": "BUY", "total_quantity": "2", "slices": 1000, "interval_seconds": 1},
        is_active=True,
    )
    idle = strategy_config_create(
        name="ETH TWAP e2e",
        kind="twap",
        symbol="ETHUSDT",
        params={"side": "SELL", "total_quantity": "1", "slices": 100, "interval_seconds": 60},
        is_active=False,
    )
    return busy, idle


def log_in(page, server) -> None:
    page.goto(f"{server.url}/accounts/login/?next=/")
    page.fill("#id_username", "e2e")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/")


def order_ids(page) -> set[str]:
    return set(
        page.eval_on_selector_all(
            '[data-live="orders"] tr[data-order-id]', "rows => rows.map(r => r.dataset.orderId)"
        )
    )


def test_overview_updates_live_persists_a_toggle_and_catches_up_after_a_reconnect(
    server, trading_setup, browser_page
):
    busy, idle = trading_setup
    page = browser_page

    log_in(page, server)
    page.wait_for_selector("html[data-live=connected]")
    page.evaluate("window.__sameDocument = true")

    # A price change, without reloading. Bid and ask come only from live events (the page
    # renders the last mid alone); selectors, not element handles, since refreshing a
    # region replaces its elements.
    tile = '[data-price-symbol="BTCUSDT"]'
    page.wait_for_function(f"document.querySelector('{tile} [data-field=bid]').textContent !== '—'")
    first_price = page.text_content(f"{tile} [data-field=mid]")
    page.wait_for_function(
        f"before => document.querySelector('{tile} [data-field=mid]').textContent !== before",
        arg=first_price,
    )
    assert page.text_content(f"{tile} [data-field=mid]") != first_price

    # A new order appears after a tick.
    seen = order_ids(page)
    page.wait_for_function(
        """seen => [...document.querySelectorAll('[data-live="orders"] tr[data-order-id]')]
                  .some(row => !seen.includes(row.dataset.orderId))""",
        arg=sorted(seen),
    )
    new_ids = order_ids(page) - seen
    placed = off_loop(lambda: Order.objects.filter(pk__in=new_ids, strategy=busy).count())
    assert placed == len(new_ids) > 0

    # The switch: on, in the database, and on the page from the service's event.
    switch = page.locator(f'[data-strategy-toggle="{idle.pk}"]')
    assert switch.get_attribute("aria-checked") == "false"
    switch.click()
    page.wait_for_selector(f'[data-strategy-toggle="{idle.pk}"][aria-checked="true"]')
    assert off_loop(lambda: StrategyConfig.objects.get(pk=idle.pk).is_active) is True

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "overview-1366.png"), full_page=True)

    # The server goes away: the page says so, and keeps trying.
    server.stop()
    page.wait_for_selector("html[data-live=reconnecting]")
    assert "Reconnecting" in page.locator("[data-live-indicator]").text_content()
    # What happens meanwhile reaches no page...
    off_loop(strategy_config_set_active, strategy=idle, active=False)
    # ...and is read again once the page is back.
    server.start()
    page.wait_for_selector("html[data-live=connected]", timeout=45_000)
    page.wait_for_selector(f'[data-strategy-toggle="{idle.pk}"][aria-checked="false"]')
    assert off_loop(lambda: StrategyConfig.objects.get(pk=idle.pk).is_active) is False

    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"


def test_live_numbers_are_formatted_like_the_server_renders_them(server, browser_page):
    """static/js/format.js and trading/templatetags/xquant_format.py agree digit for digit,
    so a value updated live reads exactly like one the server rendered."""
    from trading.templatetags import xquant_format

    cases = {
        "price": ["65000.1", "3456.789", "1.23456789", "0.000123456", "-120.5", "0"],
        "qty": [
            "0.010000000000",
            "1500.000",
            "-0.3",
            "0.123456789123",
            "2",
            "0.007000000000000000145716771981",
        ],
        "money": ["1234567.891", "-0.004", "0"],
        "pnl": ["12.3", "-5", "0.001", "-0.001", "1000000"],
    }
    page = browser_page
    page.goto(f"{server.url}/accounts/login/")
    formatted = page.evaluate(
        """async (cases) => {
            const { formatNumber } = await import("/static/js/format.js");
            const out = {};
            for (const [kind, values] of Object.entries(cases)) {
                out[kind] = values.map((v) => formatNumber(v, kind));
            }
            return out;
        }""",
        cases,
    )
    expected = {
        kind: [getattr(xquant_format, kind)(value) for value in values]
        for kind, values in cases.items()
    }
    assert formatted == expected


def test_market_chart_moves_live_and_a_backtest_runs_from_the_form(
    server, trading_setup, browser_page
):
    page = browser_page
    log_in(page, server)

    page.goto(f"{server.url}/market/BTCUSDT/")
    page.wait_for_selector("html[data-live=connected]")
    page.wait_for_selector("[data-market-chart] canvas")
    # The forming candle follows the price events.
    page.wait_for_function("window.xquantMarket && window.xquantMarket.bar !== null")
    before = page.evaluate("JSON.stringify(window.xquantMarket.bar)")
    page.wait_for_function("b => JSON.stringify(window.xquantMarket.bar) !== b", arg=before)
    markers = page.evaluate("window.xquantMarket.data.markers.map(m => m.kind)")
    assert "buy" in markers, "the TWAP's fills are marked on the chart"
    page.screenshot(path=str(ARTIFACTS / "market-1366.png"), full_page=True)

    page.goto(f"{server.url}/backtests/")
    page.wait_for_selector("html[data-live=connected]")
    page.select_option("select[name=strategy]", "trend_following")
    page.select_option("select[name=symbol]", "BTCUSDT")
    page.select_option("select[name=timeframe]", "4h")
    page.fill("textarea[name=params]", '{"fast": 5, "slow": 20}')
    page.click("form[data-backtest-form] button[type=submit]")
    page.wait_for_url(f"{server.url}/backtests/*/", timeout=60_000)
    page.wait_for_selector('[data-metric="total_return"]')
    page.wait_for_selector("[data-equity-chart] canvas")
    run_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    run = off_loop(lambda: BacktestRun.objects.get(pk=run_id))
    assert (run.status, run.strategy, run.params["fast"]) == ("finished", "trend_following", 5)
    page.screenshot(path=str(ARTIFACTS / "backtest-1366.png"), full_page=True)


def risk_limits_engaged() -> bool:
    from trading.selectors import risk_limits_get

    return off_loop(lambda: risk_limits_get().kill_switch_engaged)


def test_kill_switch_engages_and_releases_from_the_overview_dialogs_and_a_twap_resumes(
    server, trading_setup, browser_page
):
    """Both dialogs POST to the kill-switch URL (a hidden input named "action" once
    shadowed form.action, and they posted to "/[object HTMLInputElement]"). The running
    TWAP pauses while the switch is engaged and resumes on release."""
    busy, _ = trading_setup
    page = browser_page
    posted: list[str] = []
    failed: list[str] = []
    page.on("request", lambda r: posted.append(r.url) if r.method == "POST" else None)
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    log_in(page, server)
    page.wait_for_selector("html[data-live=connected]")
    assert risk_limits_engaged() is False
    # Another page open meanwhile (the same session): it must say so too, live.
    other = page.context.new_page()
    other.goto(f"{server.url}/orders/")
    other.wait_for_selector("html[data-live=connected]")
    assert other.is_hidden("[data-kill-banner]")

    page.click("[data-open-dialog=kill-switch-engage]")
    page.fill("#ks-engage-reason", "browser test incident")
    page.click("#kill-switch-engage button[type=submit]")
    page.wait_for_selector('[data-live="risk"] [data-kill-switch="engaged"]')
    assert "browser test incident" in page.text_content('[data-live="risk"] .alert')
    assert risk_limits_engaged() is True
    page.wait_for_selector(".toast >> text=Kill switch engaged")
    other.wait_for_selector("[data-kill-banner]:not([hidden])")
    assert "browser test incident" in other.text_content("[data-kill-banner]")
    # The TWAP pauses at its next tick, and the strategies table says so, live.
    paused = f'[data-strategy-id="{busy.pk}"] [data-strategy-status="paused"]'
    page.wait_for_selector(paused)
    state = off_loop(lambda: StrategyConfig.objects.get(pk=busy.pk).state)
    assert "kill switch engaged: browser test incident" in state["paused"]["reason"]
    page.screenshot(path=str(ARTIFACTS / "overview-kill-switch-engaged-1366.png"), full_page=True)
    sent_while_paused = off_loop(lambda: Order.objects.filter(strategy=busy).count())

    page.click("[data-open-dialog=kill-switch-release]")
    page.fill("#ks-release-reason", "incident resolved")
    page.click("#kill-switch-release button[type=submit]")
    page.wait_for_selector('[data-live="risk"] [data-kill-switch="off"]')
    assert risk_limits_engaged() is False
    other.wait_for_selector("[data-kill-banner]", state="hidden")
    other.close()
    # Resumed: no longer shown paused, and its slices go out again.
    page.wait_for_selector(paused, state="detached")
    page.wait_for_function(
        """id => [...document.querySelectorAll('[data-live="orders"] tr[data-order-id]')]
                  .some(row => Number(row.dataset.orderId) > id)""",
        arg=off_loop(lambda: Order.objects.filter(strategy=busy).latest("id").pk),
    )
    config = off_loop(lambda: StrategyConfig.objects.get(pk=busy.pk))
    assert (config.status, config.is_active, config.state.get("paused")) == ("ok", True, None)
    assert off_loop(lambda: Order.objects.filter(strategy=busy).count()) > sent_while_paused
    refused = off_loop(
        lambda: Order.objects.filter(strategy=busy, error_code="risk.kill_switch").count()
    )
    assert refused <= 1, "a paused TWAP sends nothing (one may race the engage)"

    assert failed == [], "no request of the page failed (favicon included)"
    kill_switch_url = f"{server.url}/risk/kill-switch/"
    assert [url for url in posted if "kill-switch" in url or "object" in url] == [
        kill_switch_url,
        kill_switch_url,
    ]


def test_prices_and_health_show_their_age_when_the_page_is_not_live(
    server, trading_setup, browser_page
):
    """The server goes away: past the stale limit (30 s here) the price tiles are greyed
    with their age and health says it is degraded; back live, both recover by themselves.
    The page's clock is Playwright's, moved on instead of waited out."""
    page = browser_page
    page.clock.install()
    log_in(page, server)
    page.wait_for_selector("html[data-live=connected]")
    tile = '[data-price-symbol="BTCUSDT"]'
    page.wait_for_function(f"document.querySelector('{tile} [data-field=bid]').textContent !== '—'")
    assert page.get_attribute(tile, "data-stale") == "false"
    assert page.is_hidden("[data-health-degraded]")

    server.stop()
    page.wait_for_selector("html[data-live=reconnecting]")
    page.clock.fast_forward(40_000)
    page.wait_for_selector(f"{tile}.stale")
    age = page.text_content(f"{tile} [data-age]")
    match = re.fullmatch(r"stale · (\d+) s old", age)
    # 40 s moved on, plus the real seconds since the last price: never under the limit.
    assert match and 40 <= int(match.group(1)) < 120, age
    page.wait_for_selector("[data-health-degraded]:not([hidden])")
    assert "Not live for" in page.text_content("[data-health-degraded]")
    assert page.get_attribute("ul[data-health]", "class").split().count("degraded") == 1
    page.screenshot(path=str(ARTIFACTS / "overview-not-live-1366.png"), full_page=True)

    server.start()
    page.clock.fast_forward(31_000)  # the reconnection's backoff timer
    page.wait_for_selector("html[data-live=connected]", timeout=45_000)
    page.wait_for_selector(f'{tile}[data-stale="false"]')
    page.wait_for_selector("[data-health-degraded][hidden]", state="attached")
    assert page.text_content(f"{tile} [data-age]") == ""


def test_a_position_is_closed_from_the_overview_after_its_confirmation(
    server, trading_setup, browser_page, settings
):
    from decimal import Decimal

    from exchanges.registry import exchange_cache_clear, get_exchange
    from trading.models import Position
    from trading.services.orders import order_place
    from trading.strategies.base import OrderIntent

    settings.EXCHANGE = "paper"
    exchange_cache_clear()
    # A position of the trader's own on ETH (nothing trades ETH in this setup).
    order = off_loop(
        lambda: order_place(
            intent=OrderIntent(key="", symbol="ETHUSDT", side="BUY", quantity=Decimal("0.05")),
            exchange=get_exchange(),
            source="api",
        )
    )
    assert order.status == "filled"
    position = off_loop(lambda: Position.objects.get(symbol="ETHUSDT"))
    page = browser_page
    log_in(page, server)
    page.wait_for_selector("html[data-live=connected]")

    page.click(f'[data-position-close="{position.pk}"]')
    dialog = f"#position-close-{position.pk}"
    page.wait_for_selector(f"{dialog}[open]")
    assert "SELL 0.05 ETHUSDT — the part no strategy holds" in page.text_content(
        f"{dialog} [data-close-plan]"
    )
    page.screenshot(path=str(ARTIFACTS / "overview-close-position-1366.png"))
    page.click(f"{dialog} button[type=submit]")
    page.wait_for_selector(f'tr[data-position-id="{position.pk}"]', state="detached")
    page.wait_for_selector(".toast >> text=Closing ETHUSDT")
    closed = off_loop(lambda: Position.objects.get(pk=position.pk))
    assert closed.quantity == 0
    exchange_cache_clear()


@pytest.mark.parametrize(("width", "height"), [(1440, 900), (390, 844)])
def test_pages_fit_desktop_and_phone_widths_and_are_saved_for_review(
    server, trading_setup, browser_page, width, height
):
    """Overview, orders, performance and activity at 1440 and 390 px: nothing wider than the
    screen, the performance curve drawn; screenshots in test-artifacts/."""
    page = browser_page
    page.set_viewport_size({"width": width, "height": height})
    log_in(page, server)
    page.wait_for_selector("html[data-live=connected]")
    # A few TWAP fills, so every page has something to show.
    page.wait_for_function(
        'document.querySelectorAll(\'[data-live="fills"] tbody tr[data-fill-id], '
        '[data-live="fills"] tbody tr\').length >= 2'
    )
    for name, path, ready in [
        ("overview", "/", "[data-account-equity], [data-account-missing]"),
        ("orders", "/orders/", "[data-live] table"),
        ("performance", "/performance/?range=1d", "[data-pnl-chart] canvas"),
        ("activity", "/activity/", "[data-activity-feed] [data-kind]"),
    ]:
        page.goto(f"{server.url}{path}")
        page.wait_for_selector("html[data-live=connected]")
        page.wait_for_selector(ready)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"{name} is {overflow} px wider than a {width} px screen"
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
    # The performance page's total is the API's, as the page writes money. Fills go on
    # meanwhile: read both until they agree (the page refreshes on every fill).
    from trading.templatetags.xquant_format import pnl

    page.goto(f"{server.url}/performance/?range=1d")

    def agree() -> bool:
        api = page.request.get(f"{server.url}/api/performance?range=1d").json()
        shown = page.text_content('[data-summary="range"]').strip()
        return shown == pnl(Decimal(api["totals"]["realized"]))

    deadline = time.monotonic() + 20
    while not agree():
        assert time.monotonic() < deadline, "the page and the API disagree"
        time.sleep(0.3)


def test_an_order_is_placed_after_its_review_and_cancelled_from_the_orders_page(
    server, trading_setup, browser_page
):
    page = browser_page
    log_in(page, server)
    page.goto(f"{server.url}/orders/")
    page.wait_for_selector("html[data-live=connected]")

    page.click("[data-open-dialog=order-place]")
    dialog = "#order-place"
    page.select_option(f"{dialog} select[name=symbol]", "ETHUSDT")
    page.select_option(f"{dialog} select[name=order_type]", "LIMIT")
    page.fill(f"{dialog} input[name=quantity]", "0.05")
    page.fill(f"{dialog} input[name=price]", "1000")
    page.click(f"{dialog} button[type=submit]")  # review
    page.wait_for_selector(f"{dialog} [data-preview]:not([hidden])")
    preview = page.text_content(f"{dialog} [data-preview]")
    assert preview.startswith("BUY 0.05 ETHUSDT at 1,000.00: about 50.00 USDT"), preview
    assert off_loop(lambda: Order.objects.filter(symbol="ETHUSDT").count()) == 0
    page.screenshot(path=str(ARTIFACTS / "orders-place-review-1366.png"))
    page.click(f"{dialog} button[type=submit]")  # send
    page.wait_for_selector(".toast >> text=ETHUSDT: open")
    order = off_loop(lambda: Order.objects.get(symbol="ETHUSDT"))
    assert (order.status, order.price, order.source) == ("open", Decimal("1000"), "api")

    page.wait_for_selector('option[value="symbol:ETHUSDT"]', state="attached")
    page.click("[data-open-dialog=orders-cancel-open]")
    page.select_option("#orders-cancel-open select[name=scope]", "symbol:ETHUSDT")
    visible = page.eval_on_selector_all(
        "#orders-cancel-open [data-cancel-list] li:not([hidden])", "items => items.length"
    )
    assert visible == 1
    page.click("#orders-cancel-open button[type=submit]")
    page.wait_for_selector(".toast >> text=1 open order(s) cancelled")
    assert off_loop(lambda: Order.objects.get(pk=order.pk).status) == "canceled"


def test_two_backtests_are_picked_and_compared(server, trading_setup, browser_page):
    from prediction.models import BacktestStatus

    def run(strategy, end):
        return BacktestRun.objects.create(
            engine="vectorised",
            strategy=strategy,
            symbol="BTCUSDT",
            timeframe="1h",
            status=BacktestStatus.FINISHED,
            metrics={"total_return": end / 1000 - 1, "sharpe": 1.0},
            equity_curve=[
                ["2024-01-01T00:00:00+00:00", 1000],
                ["2024-01-01T01:00:00+00:00", end],
            ],
        ).pk

    first, second = off_loop(run, "trend_following", 1100), off_loop(run, "rsi", 900)
    page = browser_page
    log_in(page, server)
    page.goto(f"{server.url}/backtests/")
    page.click("[data-compare-link]")
    page.check(f"#run-{first}")
    page.check(f"#run-{second}")
    page.click("[data-compare-form] button[type=submit]")
    page.wait_for_selector("[data-compare-chart] canvas")
    assert page.evaluate("window.xquantCompare.series") == 2
    assert page.locator("[data-compare-metrics] thead th").count() == 3
    page.screenshot(path=str(ARTIFACTS / "backtest-compare-1366.png"), full_page=True)


def test_market_chart_labels_its_markers_only_when_they_have_room(
    server, trading_setup, browser_page
):
    page = browser_page
    log_in(page, server)
    page.goto(f"{server.url}/market/BTCUSDT/")
    page.wait_for_selector("[data-market-chart] canvas")
    page.wait_for_function("window.xquantMarket && window.xquantMarket.data.markers.length > 0")
    texts = "window.xquantMarket.markers.markers().map(m => m.text)"
    # All the bars on one screen: a few pixels each, arrows without labels.
    page.evaluate("window.xquantMarket.chart.timeScale().fitContent()")
    page.wait_for_function("window.xquantMarket.labels === false")
    assert set(page.evaluate(texts)) == {""}
    # Zoomed in to the last 12 bars: the labels are back.
    page.evaluate(
        """() => {
            const n = window.xquantMarket.data.candles.length;
            window.xquantMarket.chart.timeScale().setVisibleLogicalRange({from: n - 12, to: n});
        }"""
    )
    page.wait_for_function("window.xquantMarket.labels === true")
    assert any(text.startswith("B") for text in page.evaluate(texts))
