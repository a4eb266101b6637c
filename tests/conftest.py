from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from django.conf import settings

#: `XQUANT_TEST_NOW=2031-02-28T23:59:40Z make test` runs the whole suite as if the clock
#: read that instant when it started (it keeps ticking from there), to prove that no test
#: depends on the date or hour it runs at. CI runs the suite at a few such instants.
_TEST_NOW = os.environ.get("XQUANT_TEST_NOW", "")
ROOT = Path(__file__).resolve().parent.parent

#: The instant that tests which price things through the registry's paper exchange pin
#: the clock to: the synthetic feed's price follows the clock, so a test that places a
#: limit order at "80 % of the bid" would otherwise meet the minimum notional only on
#: some days.
PINNED_NOW = datetime(2025, 6, 2, 14, 30, tzinfo=UTC)


def pytest_configure(config):
    # Before collection, so module-level clock reads (e.g. a conftest's T0) travel too.
    if _TEST_NOW:
        destination = datetime.fromisoformat(_TEST_NOW.replace("Z", "+00:00"))
        # Processes the tests start (a trader, a second paper process, a worker) keep the
        # same offset from the real clock, through tests/clock_shift/sitecustomize.py.
        os.environ["XQUANT_TEST_CLOCK_OFFSET"] = str(destination.timestamp() - time.time())
        os.environ["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(Path(__file__).parent / "clock_shift"), os.environ.get("PYTHONPATH")])
        )
        config._xquant_travel = time_machine.travel(destination, tick=True)
        config._xquant_travel.start()


def child_env(**overrides: str) -> dict[str, str]:
    """The environment for a Python process a test starts from the project root: this
    one's, with the project importable and the suite's clock offset kept."""
    path = [str(ROOT), os.environ.get("PYTHONPATH", "")]
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "xquant.settings",
        "PYTHONPATH": os.pathsep.join(filter(None, path)),
        **overrides,
    }


def trader_env(**overrides: str) -> dict[str, str]:
    """The environment of a `manage.py` process (a trader, a worker) on the test database
    and Redis, trading BTCUSDT; the exchange is the child's default unless given."""
    from django.db import connection

    db = connection.settings_dict
    env = {k: v for k, v in child_env().items() if not k.startswith(("EXCHANGE", "PAPER_"))}
    env.update(
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        REDIS_URL=settings.REDIS_URL,
        XQUANT_ENV="test",
        XQUANT_ENV_FILE="/nonexistent",
        TRADING_SYMBOLS="BTCUSDT",
        LOG_LEVEL="INFO",
    )
    env.update(overrides)
    return env


def wait_for(condition, timeout: float, what: str):
    """The first true value of `condition()`, polled until `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def pytest_unconfigure(config):
    travel = getattr(config, "_xquant_travel", None)
    if travel is not None:
        travel.stop()


def pytest_report_header(config):
    db = settings.DATABASES["default"]
    location = (
        db.get("NAME")
        if "sqlite" in db["ENGINE"]
        else f"{db.get('HOST')}:{db.get('PORT')}/{db.get('NAME')}"
    )
    return [
        f"xquant clock: {'starts at ' + _TEST_NOW if _TEST_NOW else 'real time'}",
        f"xquant database: {db['ENGINE'].rsplit('.', 1)[-1]} ({location})",
        f"xquant redis: {settings.REDIS_URL or 'not configured'}",
    ]


@pytest.fixture(autouse=True)
def _isolated_caches():
    """Each test starts with an empty cache (it may be Redis, shared across tests)."""
    from django.core.cache import cache

    cache.clear()
    yield


def user_with_roles(username: str, *roles: str, password: str | None = None, **fields):
    """A user in the given role groups (xquant.roles); password `<username>-pass-123`
    unless given."""
    from django.contrib.auth.models import Group, User

    from xquant.roles import role_groups_sync

    if Group.objects.filter(name__in=roles).count() != len(set(roles)):
        role_groups_sync()  # a flushed test database
    person = User.objects.create_user(
        username=username, password=password or f"{username}-pass-123", **fields
    )
    person.groups.set(Group.objects.filter(name__in=roles))
    return person


@pytest.fixture
def user(db):
    """The desk's usual logged-in person: a trader (orders, strategies)."""
    return user_with_roles("trader", "trader")


@pytest.fixture
def risk_user(db):
    """A risk manager: limits, kill switch, futures settings."""
    return user_with_roles("risker", "risk")


@pytest.fixture
def viewer(db):
    """Reads everything, changes nothing."""
    return user_with_roles("viewer", "viewer")


@pytest.fixture
def staff_client(db, client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def binance_emulator():
    """A fresh loopback Binance USD-M emulator on 127.0.0.1 (tests.binance_emulator)."""
    from tests.binance_emulator import BinanceEmulator

    with BinanceEmulator() as emulator:
        yield emulator


@pytest.fixture
def binance_exchange(binance_emulator):
    """The real Binance connector (real ccxt) pointed at the emulator, with a 1 s
    timeout and a request-weight throttle of its own (in this process)."""
    from exchanges.binance import BinanceExchange
    from exchanges.binance.throttle import LocalWeightStore

    exchange = BinanceExchange(
        api_key=binance_emulator.api_key,
        api_secret=binance_emulator.api_secret,
        base_url=binance_emulator.url,
        timeout=1.0,
        weight_store=LocalWeightStore(),
    )
    yield exchange
    exchange.close()


@pytest.fixture
def binance_emulator_settings(settings, binance_emulator):
    """Settings that make get_exchange() return the Binance connector pointed at the
    emulator (1 s timeout, throttle in Redis when REDIS_URL is set); yields the emulator."""
    from exchanges.registry import exchange_cache_clear

    settings.EXCHANGE = "binance"
    settings.EXCHANGE_API_KEY = binance_emulator.api_key
    settings.EXCHANGE_API_SECRET = binance_emulator.api_secret
    settings.EXCHANGE_BASE_URL = binance_emulator.url
    settings.EXCHANGE_TIMEOUT_SECONDS = 1.0
    exchange_cache_clear()
    yield binance_emulator
    exchange_cache_clear()


@pytest.fixture
def registry_paper(settings):
    """get_exchange() gives the paper exchange on the test database, with the clock (and
    so the synthetic feed's prices) pinned to PINNED_NOW and ticking from there."""
    from exchanges.registry import exchange_cache_clear, get_exchange

    settings.EXCHANGE = "paper"
    settings.TRADING_SYMBOLS = ["BTCUSDT", "ETHUSDT"]
    exchange_cache_clear()
    with time_machine.travel(PINNED_NOW, tick=True):
        yield get_exchange()
    exchange_cache_clear()
