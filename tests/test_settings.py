"""Settings: every variable's default, overrides from the environment, and refusal to
start in production with unsafe values. Each case imports the settings module in a
fresh interpreter, because settings are read once at import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: What `secrets.token_urlsafe(50)` gives: 67 characters, about 45 different ones.
RANDOM_KEY = "q3VZ9kX0-Lw7pT2bYc8Rj5nHs1Fd6Gm4Ua_EoIyKxQvBzNhCtWrMlPg0fJi9eSa8Du2Ob"
RANDOM_TOKEN = "tK4pZr8Wq2Lx9Vb6Nc3Mh7Gf1Dj5Sa0Ye"
VARIABLES = [
    "DATABASE_URL",
    "REDIS_URL",
    "API_TOKEN",
    "API_TOKEN_ROLE",
    "EXCHANGE",
    "USE_MOCK",
    "EXCHANGE_API_KEY",
    "EXCHANGE_API_SECRET",
    "EXCHANGE_BASE_URL",
    "TRADING_SYMBOLS",
    "TICK_SECONDS",
    "LEVERAGE",
    "ISOLATED",
    "HEDGE",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "XQUANT_ENV",
    "PREDICTION_API_BASE_URL",
    "CORS_ALLOWED_ORIGINS",
    "EXCHANGE_TIMEOUT_SECONDS",
    "EXCHANGE_WEIGHT_BUDGET",
    "PAPER_FEED",
    "PAPER_SEED",
    "PAPER_STARTING_BALANCE",
    "PAPER_MAKER_FEE",
    "PAPER_TAKER_FEE",
]
PRINT_SETTINGS = """
import json
from decimal import Decimal
import xquant.settings as s
out = {name: getattr(s, name) for name in %r}
out["DB_ENGINE"] = s.DATABASES["default"]["ENGINE"]
out["DB_NAME"] = str(s.DATABASES["default"]["NAME"])
out["CHANNELS"] = s.CHANNEL_LAYERS["default"]["BACKEND"]
print(json.dumps(out, default=str))
"""


def load_settings(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    clean["XQUANT_ENV_FILE"] = "/nonexistent"
    clean.update(env)
    result = subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS % (VARIABLES,)],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    return json.loads(result.stdout)


def test_defaults_describe_the_embedded_mode():
    s = load_settings()
    assert s["DB_ENGINE"] == "django_prometheus.db.backends.sqlite3"
    assert s["DB_NAME"].endswith("var/xquant.sqlite3")
    assert s["REDIS_URL"] == ""
    assert s["CHANNELS"] == "channels.layers.InMemoryChannelLayer"
    assert s["EXCHANGE"] == "paper"
    assert s["USE_MOCK"] is False
    assert s["API_TOKEN"] == ""
    assert s["API_TOKEN_ROLE"] == "viewer"
    assert s["EXCHANGE_BASE_URL"] == ""
    assert s["TRADING_SYMBOLS"] == ["BTCUSDT", "ETHUSDT"]
    assert s["TICK_SECONDS"] == 5.0
    assert (s["LEVERAGE"], s["ISOLATED"], s["HEDGE"]) == (3, True, False)
    assert s["DEBUG"] is True
    assert s["XQUANT_ENV"] == "development"
    assert s["ALLOWED_HOSTS"] == ["127.0.0.1", "localhost", "[::1]"]
    assert s["PREDICTION_API_BASE_URL"] == ""
    assert s["CORS_ALLOWED_ORIGINS"] == []
    assert (s["EXCHANGE_TIMEOUT_SECONDS"], s["EXCHANGE_WEIGHT_BUDGET"]) == (10.0, 2000)
    assert (s["PAPER_FEED"], s["PAPER_SEED"]) == ("synthetic", 42)
    assert (s["PAPER_STARTING_BALANCE"], s["PAPER_MAKER_FEE"], s["PAPER_TAKER_FEE"]) == (
        "100000",
        "0.0002",
        "0.0004",
    )


def test_environment_overrides_every_variable():
    s = load_settings(
        DATABASE_URL="postgres://u:p@db.internal:5433/desk",
        REDIS_URL="redis://cache.internal:6380/2",
        EXCHANGE="binance",
        EXCHANGE_API_KEY="key-123456",
        EXCHANGE_API_SECRET="secret-123456",
        EXCHANGE_BASE_URL="http://127.0.0.1:9999",
        TRADING_SYMBOLS="SOLUSDT,BNBUSDT",
        TICK_SECONDS="2.5",
        LEVERAGE="10",
        ISOLATED="false",
        HEDGE="true",
        API_TOKEN="token-abcdef",
        API_TOKEN_ROLE="trader",
        DEBUG="false",
        ALLOWED_HOSTS="desk.example.com",
        CORS_ALLOWED_ORIGINS="https://ui.example.com",
        PREDICTION_API_BASE_URL="http://127.0.0.1:8100",
        EXCHANGE_TIMEOUT_SECONDS="2.5",
        EXCHANGE_WEIGHT_BUDGET="1200",
        PAPER_FEED="replay",
        PAPER_SEED="7",
        PAPER_STARTING_BALANCE="5000",
        PAPER_MAKER_FEE="0",
        PAPER_TAKER_FEE="0.0005",
    )
    assert s["DB_ENGINE"] == "django_prometheus.db.backends.postgresql"
    assert s["DB_NAME"] == "desk"
    assert s["CHANNELS"] == "channels_redis.core.RedisChannelLayer"
    assert s["EXCHANGE"] == "binance"
    assert s["EXCHANGE_BASE_URL"] == "http://127.0.0.1:9999"
    assert s["TRADING_SYMBOLS"] == ["SOLUSDT", "BNBUSDT"]
    assert s["TICK_SECONDS"] == 2.5
    assert (s["LEVERAGE"], s["ISOLATED"], s["HEDGE"]) == (10, False, True)
    assert s["DEBUG"] is False
    assert s["API_TOKEN_ROLE"] == "trader"
    assert s["ALLOWED_HOSTS"] == ["desk.example.com"]
    assert s["CORS_ALLOWED_ORIGINS"] == ["https://ui.example.com"]
    assert s["PREDICTION_API_BASE_URL"] == "http://127.0.0.1:8100"
    assert (s["EXCHANGE_TIMEOUT_SECONDS"], s["EXCHANGE_WEIGHT_BUDGET"]) == (2.5, 1200)
    assert (s["PAPER_FEED"], s["PAPER_SEED"]) == ("replay", 7)
    assert (s["PAPER_STARTING_BALANCE"], s["PAPER_MAKER_FEE"], s["PAPER_TAKER_FEE"]) == (
        "5000",
        "0",
        "0.0005",
    )


def test_use_mock_forces_the_paper_exchange():
    s = load_settings(USE_MOCK="true", EXCHANGE="dry-run")
    assert s["EXCHANGE"] == "paper"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"XQUANT_ENV": "production", "DEBUG": "false"}, "SECRET_KEY"),
        ({"XQUANT_ENV": "production", "SECRET_KEY": RANDOM_KEY, "DEBUG": "true"}, "DEBUG"),
        # A long key typed by hand, and a short random one.
        ({"XQUANT_ENV": "production", "SECRET_KEY": "k" * 60}, "SECRET_KEY"),
        ({"XQUANT_ENV": "production", "SECRET_KEY": RANDOM_KEY[:40]}, "SECRET_KEY"),
        (
            {"XQUANT_ENV": "production", "SECRET_KEY": RANDOM_KEY, "API_TOKEN": "x"},
            "API_TOKEN",
        ),
        (
            {"XQUANT_ENV": "production", "SECRET_KEY": RANDOM_KEY, "API_TOKEN": "ab" * 20},
            "API_TOKEN",
        ),
        ({"EXCHANGE": "kraken"}, "EXCHANGE"),
        ({"API_TOKEN_ROLE": "root"}, "API_TOKEN_ROLE"),
        ({"RISK_MAX_ORDER_NOTIONAL": "200000"}, "RISK_HARD_MAX_ORDER_NOTIONAL"),
        ({"RISK_HARD_MAX_DAILY_LOSS": "-5"}, "RISK_HARD_MAX_DAILY_LOSS"),
        ({"RISK_HARD_MAX_POSITION_NOTIONAL": "lots"}, "RISK_HARD_MAX_POSITION_NOTIONAL"),
        ({"LEVERAGE": "50"}, "RISK_HARD_MAX_LEVERAGE"),
        ({"EXCHANGE": "binance"}, "EXCHANGE_API_KEY"),
        ({"LEVERAGE": "500"}, "LEVERAGE"),
        ({"TICK_SECONDS": "0"}, "TICK_SECONDS"),
        ({"TRADING_SYMBOLS": "btc/usdt"}, "TRADING_SYMBOLS"),
        ({"EXCHANGE_TIMEOUT_SECONDS": "0"}, "EXCHANGE_TIMEOUT_SECONDS"),
        ({"EXCHANGE_WEIGHT_BUDGET": "5000"}, "EXCHANGE_WEIGHT_BUDGET"),
        ({"PAPER_FEED": "live"}, "PAPER_FEED"),
        ({"PAPER_TAKER_FEE": "-0.1"}, "PAPER_TAKER_FEE"),
        ({"PAPER_STARTING_BALANCE": "lots"}, "PAPER_STARTING_BALANCE"),
    ],
)
def test_unsafe_or_invalid_values_refuse_to_start_naming_the_variable(env, named):
    with pytest.raises(RuntimeError) as excinfo:
        load_settings(**env)
    assert "ImproperlyConfigured" in str(excinfo.value)
    assert named in str(excinfo.value)


def test_production_starts_with_a_real_secret_key_and_debug_off():
    s = load_settings(XQUANT_ENV="production", SECRET_KEY=RANDOM_KEY, API_TOKEN=RANDOM_TOKEN)
    assert s["DEBUG"] is False
