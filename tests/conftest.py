from __future__ import annotations

import pytest
from django.conf import settings


def pytest_report_header(config):
    db = settings.DATABASES["default"]
    location = (
        db.get("NAME")
        if "sqlite" in db["ENGINE"]
        else f"{db.get('HOST')}:{db.get('PORT')}/{db.get('NAME')}"
    )
    return [
        f"xquant database: {db['ENGINE'].rsplit('.', 1)[-1]} ({location})",
        f"xquant redis: {settings.REDIS_URL or 'not configured'}",
    ]


@pytest.fixture(autouse=True)
def _isolated_caches():
    """Each test starts with an empty cache (it may be Redis, shared across tests)."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _fresh_connection_state():
    """Each test starts with no statement prepared on its connection (xquant.sql), so
    the SQL it sends does not depend on the tests before it (names are never reused, so
    the statements still on the server stay out of the way), and with no paper orders
    kept (exchanges.paper.book_watch)."""
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        # Flushing tables between tests notifies nobody: start without kept orders too.
        connection._xquant_session = None
        connection._xquant_keeps_open_orders = False
    yield


@pytest.fixture
def user(db, django_user_model):
    return django_user_model.objects.create_user(username="trader", password="trader-pass-123")


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
