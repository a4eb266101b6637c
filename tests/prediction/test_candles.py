"""Candle storage: upserts, gaps, incremental fetches and the bundled sample."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import IntegrityError

from prediction.models import Candle
from prediction.selectors import candle_frame
from prediction.services.candles import candle_gaps, candles_fetch, candles_store
from tests.prediction.fakes import CandleFeedExchange, make_bars
from xquant.errors import ValidationError

pytestmark = pytest.mark.django_db

T0 = datetime(2024, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
NOW = T0 + 10 * HOUR + timedelta(minutes=30)  # bar 10 (10:00-11:00) is still forming


def test_store_is_an_upsert_unique_per_symbol_timeframe_and_open_time():
    bars = make_bars(T0, 3, HOUR)
    candles_store(symbol="BTCUSDT", timeframe="1h", candles=bars)
    changed = make_bars(T0, 1, HOUR, price=500)
    candles_store(symbol="BTCUSDT", timeframe="1h", candles=changed)
    assert Candle.objects.count() == 3
    assert Candle.objects.get(open_time=T0).close == Decimal("500.5")
    candles_store(symbol="BTCUSDT", timeframe="15m", candles=bars)  # another timeframe: new rows
    assert Candle.objects.count() == 6


def test_database_refuses_a_duplicate_bar():
    bar = make_bars(T0, 1, HOUR)[0]
    fields = dict(
        symbol="BTCUSDT",
        timeframe="1h",
        open_time=T0,
        open=bar.open,
        high=bar.high,
        low=bar.low,
        close=bar.close,
        volume=bar.volume,
    )
    Candle.objects.create(**fields)
    with pytest.raises(IntegrityError):
        Candle.objects.create(**fields)


def test_gaps_lists_each_hole_between_stored_bars():
    bars = make_bars(T0, 10, HOUR)
    del bars[7]
    del bars[2:4]
    candles_store(symbol="BTCUSDT", timeframe="1h", candles=bars)
    gaps = candle_gaps(symbol="BTCUSDT", timeframe="1h")
    assert [(g.start, g.end, g.bars) for g in gaps] == [
        (T0 + 2 * HOUR, T0 + 4 * HOUR, 2),
        (T0 + 7 * HOUR, T0 + 8 * HOUR, 1),
    ]


def test_first_fetch_pages_through_the_range_and_stops_before_the_forming_bar():
    exchange = CandleFeedExchange(make_bars(T0, 11, HOUR))
    seen = []
    result = candles_fetch(
        exchange=exchange,
        symbol="BTCUSDT",
        timeframe="1h",
        since=T0,
        limit=4,
        now=NOW,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert result.stored == 10  # bar 10 is forming at NOW
    assert [r[2] for r in exchange.requests] == [T0, T0 + 4 * HOUR, T0 + 8 * HOUR]
    assert Candle.objects.filter(timeframe="1h").count() == 10
    assert seen[-1] == (10, 10)
    assert candle_gaps(symbol="BTCUSDT", timeframe="1h") == []


def test_second_fetch_requests_only_the_holes_and_the_new_bars():
    stored = make_bars(T0, 8, HOUR)
    del stored[3:5]
    candles_store(symbol="BTCUSDT", timeframe="1h", candles=stored)
    exchange = CandleFeedExchange(make_bars(T0, 11, HOUR))
    result = candles_fetch(exchange=exchange, symbol="BTCUSDT", timeframe="1h", since=T0, now=NOW)
    assert [(g.start, g.bars) for g in result.gaps_found] == [
        (T0 + 3 * HOUR, 2),
        (T0 + 8 * HOUR, 2),
    ]
    assert [r[2] for r in exchange.requests] == [T0 + 3 * HOUR, T0 + 8 * HOUR]
    assert result.stored == 4
    assert Candle.objects.count() == 10 and result.gaps_unfilled == []


def test_a_hole_the_exchange_cannot_fill_is_reported_and_not_retried_forever():
    available = make_bars(T0, 10, HOUR)
    del available[4:6]  # an exchange outage
    exchange = CandleFeedExchange(available)
    result = candles_fetch(
        exchange=exchange, symbol="BTCUSDT", timeframe="1h", since=T0, limit=4, now=NOW
    )
    assert result.stored == 8
    # A later fetch sees the hole, asks once, and reports it as unfillable.
    exchange.requests.clear()
    again = candles_fetch(exchange=exchange, symbol="BTCUSDT", timeframe="1h", since=T0, now=NOW)
    assert [(g.start, g.bars) for g in again.gaps_found] == [(T0 + 4 * HOUR, 2)]
    assert len(exchange.requests) == 1
    assert again.stored == 0 and [(g.start, g.bars) for g in again.gaps_unfilled] == [
        (T0 + 4 * HOUR, 2)
    ]


def test_load_sample_candles_stores_the_real_bars_and_their_resamples(capsys):
    call_command("load_sample_candles")
    assert Candle.objects.filter(symbol="BTCUSDT", timeframe="15m").count() == 8_686
    first = Candle.objects.filter(timeframe="15m").order_by("open_time").first()
    assert first.open_time == datetime(2021, 9, 27, 13, 45, tzinfo=UTC)
    assert first.open == Decimal("43443.0625") and first.close == Decimal("43548.7734375")
    hour = Candle.objects.get(timeframe="1h", open_time=datetime(2021, 9, 27, 14, tzinfo=UTC))
    quarter = list(
        Candle.objects.filter(
            timeframe="15m", open_time__gte=hour.open_time, open_time__lt=hour.open_time + HOUR
        ).order_by("open_time")
    )
    assert len(quarter) == 4
    assert hour.open == quarter[0].open and hour.close == quarter[-1].close
    assert hour.high == max(q.high for q in quarter) and hour.low == min(q.low for q in quarter)
    assert hour.volume == sum(q.volume for q in quarter)
    call_command("load_sample_candles")  # idempotent
    assert Candle.objects.filter(timeframe="15m").count() == 8_686
    assert "BTCUSDT 1d" in capsys.readouterr().out


def test_candle_frame_loads_the_sample_on_first_use_and_honours_the_range():
    frame = candle_frame(
        symbol="BTCUSDT",
        timeframe="4h",
        start=datetime(2021, 10, 1, tzinfo=UTC),
        end=datetime(2021, 10, 2, tzinfo=UTC),
    )
    assert len(frame) == 6
    assert frame.index[0] == datetime(2021, 10, 1, tzinfo=UTC)
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert candle_frame(symbol="BTCUSDT", timeframe="1d", limit=5).index[-1] == datetime(
        2021, 12, 29, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"symbol": "DOGEUSDT", "timeframe": "1h"}, "No 1h candles for DOGEUSDT"),
        ({"symbol": "btc-usd", "timeframe": "1h"}, "is not an exchange symbol"),
        ({"symbol": "BTCUSDT", "timeframe": "7m"}, "Unknown timeframe '7m'. Allowed: 1m, 3m"),
        (
            {
                "symbol": "BTCUSDT",
                "timeframe": "1d",
                "start": datetime(2021, 12, 1, tzinfo=UTC),
                "min_bars": 50,
            },
            "The range holds 29 1d candles of BTCUSDT; at least 50 are needed",
        ),
    ],
)
def test_candle_frame_refuses_bad_requests_with_clear_messages(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        candle_frame(**kwargs)


def test_paper_exchange_candles_are_stored_as_synthetic_apart_from_the_real_ones():
    from exchanges.paper.exchange import PaperExchange

    real = candle_frame(symbol="BTCUSDT", timeframe="1h")  # loads the bundled real sample
    at = datetime(2021, 10, 5, tzinfo=UTC)  # inside the sample: same open times as real bars
    paper = PaperExchange(account="synthetic-candles", symbols=["BTCUSDT"], clock=lambda: at)
    result = candles_fetch(
        exchange=paper, symbol="BTCUSDT", timeframe="1h", since=at - 30 * HOUR, now=at
    )
    assert result.synthetic and result.stored == 30
    synthetic = Candle.objects.filter(synthetic=True)
    assert synthetic.count() == 30 and set(synthetic.values_list("source", flat=True)) == {"paper"}
    # The real bars at those times are untouched, and reads stay real unless asked.
    again = candle_frame(symbol="BTCUSDT", timeframe="1h")
    assert again.equals(real)
    assert not Candle.objects.filter(synthetic=False, source="paper").exists()
    simulated = candle_frame(symbol="BTCUSDT", timeframe="1h", synthetic=True)
    assert len(simulated) == 30 and simulated.index[-1] == at - HOUR
    assert not simulated["close"].equals(real.loc[simulated.index, "close"])


def test_error_for_a_timeframe_without_candles_is_one_short_line_naming_those_with_data():
    candle_frame(symbol="BTCUSDT", timeframe="15m")  # thousands of stored bars
    with pytest.raises(ValidationError) as caught:
        candle_frame(symbol="BTCUSDT", timeframe="1m")
    message = str(caught.value)
    assert message.startswith("No 1m candles for BTCUSDT; BTCUSDT has candles for 15m, 1h, 4h, 1d.")
    assert "\n" not in message and len(message) < 200 and message.count("BTCUSDT") == 3


def test_timeframes_with_data_are_listed_per_symbol_real_and_synthetic_apart():
    from prediction.selectors import candle_symbols, candle_timeframes

    candles_store(symbol="ETHUSDT", timeframe="1h", candles=make_bars(T0, 3, HOUR))
    candles_store(symbol="ETHUSDT", timeframe="5m", candles=make_bars(T0, 3, HOUR))
    candles_store(symbol="SOLUSDT", timeframe="1m", candles=make_bars(T0, 3, HOUR), synthetic=True)
    assert candle_timeframes() == {
        "BTCUSDT": ["15m", "1h", "4h", "1d"],  # the bundled sample, loaded on first use
        "ETHUSDT": ["5m", "1h"],
    }
    assert candle_timeframes(synthetic=True) == {"SOLUSDT": ["1m"]}
    assert candle_symbols() == ["ETHUSDT"] and candle_symbols(synthetic=True) == ["SOLUSDT"]


def test_frame_description_gives_source_range_bar_count_and_every_gap():
    from prediction.selectors import frame_description

    bars = make_bars(T0, 10, HOUR)
    del bars[7]
    del bars[2:4]
    candles_store(symbol="ETHUSDT", timeframe="1h", candles=bars, source="binance")
    frame = candle_frame(symbol="ETHUSDT", timeframe="1h")
    assert frame_description(frame, symbol="ETHUSDT", timeframe="1h") == {
        "sources": ["binance"],
        "synthetic": False,
        "first": T0.isoformat(),
        "last": (T0 + 9 * HOUR).isoformat(),
        "bars": 7,
        "gap_count": 2,
        "missing_bars": 3,
        "gaps": [
            {"after": (T0 + HOUR).isoformat(), "before": (T0 + 4 * HOUR).isoformat(), "bars": 2},
            {
                "after": (T0 + 6 * HOUR).isoformat(),
                "before": (T0 + 8 * HOUR).isoformat(),
                "bars": 1,
            },
        ],
    }


def test_market_data_and_the_stream_seed_read_one_kind_of_candle_never_both(settings):
    from prediction.reports import market_data
    from prediction.services.market import _seed

    real = make_bars(T0, 5, HOUR, price=100)
    simulated = make_bars(T0, 5, HOUR, price=900)  # the same open times
    for timeframe in ("1h", "1m"):
        candles_store(symbol="ETHUSDT", timeframe=timeframe, candles=real, source="binance")
        candles_store(
            symbol="ETHUSDT",
            timeframe=timeframe,
            candles=simulated,
            source="paper",
            synthetic=True,
        )
    served = market_data(symbol="ETHUSDT", timeframe="1h")
    assert served["count"] == 5 and [c["close"] for c in served["candles"]] == [
        b.close for b in real
    ]
    settings.EXCHANGE = "paper"  # its snapshots continue its own synthetic candles
    assert [row[4] for row in _seed("ETHUSDT")["history"]] == [float(b.close) for b in simulated]
    settings.EXCHANGE = "binance"
    assert [row[4] for row in _seed("ETHUSDT")["history"]] == [float(b.close) for b in real]
