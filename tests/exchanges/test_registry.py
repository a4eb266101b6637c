"""get_exchange picks the exchange named by settings and keeps one per process."""

from __future__ import annotations

import threading

import pytest

from exchanges.binance import BinanceExchange
from exchanges.dry_run import DryRunExchange
from exchanges.paper import PaperExchange
from exchanges.registry import exchange_cache_clear, get_exchange


@pytest.fixture(autouse=True)
def _fresh_registry():
    exchange_cache_clear()
    yield
    exchange_cache_clear()


def test_get_exchange_follows_settings_exchange(settings):
    settings.EXCHANGE = "paper"
    assert isinstance(get_exchange(), PaperExchange)
    settings.EXCHANGE = "dry-run"
    assert isinstance(get_exchange(), DryRunExchange)


def test_binance_is_built_from_the_exchange_settings(settings):
    settings.EXCHANGE = "binance"
    settings.EXCHANGE_API_KEY = "key-from-settings"
    settings.EXCHANGE_API_SECRET = "secret-from-settings"
    settings.EXCHANGE_BASE_URL = "http://127.0.0.1:9"
    settings.EXCHANGE_TIMEOUT_SECONDS = 3.5
    exchange = get_exchange()
    assert isinstance(exchange, BinanceExchange)
    assert (exchange.base_url, exchange.timeout) == ("http://127.0.0.1:9", 3.5)
    assert "key-from-settings" not in repr(exchange)


def test_get_exchange_returns_the_same_instance_to_every_thread(settings):
    settings.EXCHANGE = "paper"
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(get_exchange())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(exchange) for exchange in seen}) == 1
    assert seen[0] is get_exchange("paper")


def test_changed_settings_build_a_new_instance(settings):
    settings.PAPER_SEED = 1
    first = get_exchange("paper")
    settings.PAPER_SEED = 2
    second = get_exchange("paper")
    assert first is not second
    assert second.feed.seed == 2


def test_paper_exchange_uses_the_paper_settings(settings):
    settings.PAPER_FEED = "replay"
    settings.PAPER_TAKER_FEE = "0.001"
    exchange = get_exchange("paper")
    assert exchange.feed.name == "replay"
    assert str(exchange.taker_fee) == "0.001"


def test_unknown_exchange_name_is_refused():
    with pytest.raises(ValueError, match="paper, dry-run, binance"):
        get_exchange("kraken")


def test_emulator_settings_fixture_points_get_exchange_at_the_emulator(binance_emulator_settings):
    exchange = get_exchange()
    assert isinstance(exchange, BinanceExchange)
    snapshot = exchange.market_snapshot("BTCUSDT")
    assert snapshot.ask == binance_emulator_settings.account.books["BTCUSDT"][1]
    [request] = binance_emulator_settings.received()
    assert request.path == "/fapi/v1/ticker/bookTicker"


def test_exchange_tests_cannot_reach_beyond_loopback():
    # The guard of tests/exchanges/conftest.py: production Binance is unreachable here.
    exchange = BinanceExchange(api_key="k", api_secret="s", base_url="", redis_url="")
    assert exchange.base_url == "https://fapi.binance.com"
    with pytest.raises(AssertionError, match="only loopback"):
        exchange.market_snapshot("BTCUSDT")
