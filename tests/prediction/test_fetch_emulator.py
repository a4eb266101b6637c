"""Candle collection through get_exchange(): the real Binance connector (ccxt) against
the loopback Binance emulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from exchanges.registry import get_exchange
from prediction.models import Candle
from prediction.services.candles import candle_gaps, candles_fetch

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def kline_starts(emulator) -> list[datetime]:
    return [
        datetime.fromtimestamp(int(r.params["startTime"]) / 1000, UTC)
        for r in emulator.received("GET", "/fapi/v1/klines")
    ]


def test_fetch_pages_through_klines_and_fills_a_hole_on_the_next_run(binance_emulator_settings):
    emulator = binance_emulator_settings
    now = datetime.now(UTC)
    since = hour_floor(now) - 10 * HOUR
    result = candles_fetch(
        exchange=get_exchange(), symbol="BTCUSDT", timeframe="1h", since=since, limit=4, now=now
    )
    # Ten closed hourly bars; the one forming now is not stored.
    assert result.stored == 10 and result.requests == 3
    assert kline_starts(emulator) == [since, since + 4 * HOUR, since + 8 * HOUR]
    stored = Candle.objects.filter(symbol="BTCUSDT", timeframe="1h").order_by("open_time")
    assert [c.open_time for c in stored] == [since + i * HOUR for i in range(10)]
    assert stored[0].source == "binance" and stored[0].close > 0

    Candle.objects.filter(open_time__in=[since + 3 * HOUR, since + 4 * HOUR]).delete()
    assert [(g.start, g.bars) for g in candle_gaps(symbol="BTCUSDT", timeframe="1h")] == [
        (since + 3 * HOUR, 2)
    ]
    again = candles_fetch(
        exchange=get_exchange(), symbol="BTCUSDT", timeframe="1h", since=since, now=now
    )
    assert again.stored == 2 and kline_starts(emulator)[-1] == since + 3 * HOUR
    assert candle_gaps(symbol="BTCUSDT", timeframe="1h") == []


def test_fetch_ohlcv_command_stores_candles_with_a_summary(binance_emulator_settings, capsys):
    since = hour_floor(datetime.now(UTC)) - 5 * HOUR
    call_command(
        "fetch_ohlcv", "BTCUSDT", "--timeframe", "1h", "--since", since.isoformat(), "--no-progress"
    )
    assert Candle.objects.filter(symbol="BTCUSDT", timeframe="1h").count() == 5
    assert "5 candles stored in 1 requests" in capsys.readouterr().out


def test_fetch_ohlcv_command_explains_bad_input(binance_emulator_settings):
    with pytest.raises(CommandError, match="is not a date or time"):
        call_command("fetch_ohlcv", "BTCUSDT", "--since", "yesterday", "--no-progress")
    with pytest.raises(CommandError, match="--limit must be between 1 and 1500"):
        call_command(
            "fetch_ohlcv", "BTCUSDT", "--since", "2024-01-01", "--limit", "5000", "--no-progress"
        )


def test_live_market_data_reads_book_ticker_depth_and_funding_from_binance(
    binance_emulator_settings, client, user
):
    emulator = binance_emulator_settings
    emulator.set_book("BTCUSDT", "65000.0", "65000.2")
    client.force_login(user)
    r = client.get("/api/market-data/live", {"symbol": "BTCUSDT", "depth": 5})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["exchange"] == "binance"
    assert body["snapshot"]["bid"] == "65000.0" and body["snapshot"]["ask"] == "65000.2"
    assert body["ticker"]["last"] and body["funding"]["funding_rate"] == "0.00010000"
    assert len(body["order_book"]["bids"]) == 5
    assert Decimal(body["order_book"]["bids"][0][0]) == Decimal("65000.0")
    assert Decimal(body["order_book"]["asks"][0][0]) == Decimal("65000.2")
    paths = {r.path for r in emulator.received("GET")}
    assert {
        "/fapi/v1/ticker/bookTicker",
        "/fapi/v1/ticker/24hr",
        "/fapi/v1/depth",
        "/fapi/v1/premiumIndex",
    } <= paths


def test_live_market_data_of_an_unknown_symbol_is_400(binance_emulator_settings, client, user):
    client.force_login(user)
    r = client.get("/api/market-data/live", {"symbol": "NOPEUSDT"})
    assert r.status_code == 400
    assert "NOPEUSDT is not traded on binance" in r.json()["message"]


def test_live_market_data_when_the_exchange_is_down_is_503_not_500(
    binance_emulator_settings, client, user
):
    emulator = binance_emulator_settings
    client.force_login(user)
    emulator.stop()
    r = client.get("/api/market-data/live", {"symbol": "BTCUSDT"})
    assert r.status_code == 503
    assert r.json()["code"] == "exchange.unavailable"
