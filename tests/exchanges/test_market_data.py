"""Offline market data: the seeded synthetic walk and the replay of bundled candles."""

from __future__ import annotations

import itertools
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from exchanges.errors import ExchangeError, UnknownSymbolError
from exchanges.market_data import ReplayFeed, SyntheticFeed, feed_create, load_bundled_candles
from exchanges.market_data.replay import BAR_SECONDS, replay_bar_for
from exchanges.market_data.synthetic import EPOCH
from exchanges.symbols import CATALOGUE

ROOT = Path(__file__).resolve().parents[2]
MOMENT = datetime(2026, 3, 2, 12, 0, 7, tzinfo=UTC)


def test_synthetic_feed_is_deterministic_for_a_seed_and_differs_between_seeds():
    one, same, other = SyntheticFeed(seed=7), SyntheticFeed(seed=7), SyntheticFeed(seed=8)
    assert one.snapshot("BTCUSDT", MOMENT) == same.snapshot("BTCUSDT", MOMENT)
    assert one.snapshot("BTCUSDT", MOMENT).bid != other.snapshot("BTCUSDT", MOMENT).bid
    # The price at a moment does not depend on what was asked before.
    later = MOMENT + timedelta(days=3)
    fresh = SyntheticFeed(seed=7)
    assert fresh.snapshot("ETHUSDT", later) == one.snapshot("ETHUSDT", later)


def test_synthetic_feed_gives_the_same_price_in_another_process():
    code = (
        "from datetime import datetime, UTC; from exchanges.market_data import SyntheticFeed; "
        f"print(SyntheticFeed(seed=7).snapshot('BTCUSDT', datetime.fromisoformat('{MOMENT.isoformat()}')).bid)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert Decimal(out.stdout.strip()) == SyntheticFeed(seed=7).snapshot("BTCUSDT", MOMENT).bid


def test_synthetic_book_has_a_realistic_spread_on_the_tick_grid():
    feed = SyntheticFeed(seed=42)
    for second in range(0, 3600, 7):
        snap = feed.snapshot("BTCUSDT", MOMENT + timedelta(seconds=second))
        assert snap.ask > snap.bid
        assert snap.bid % Decimal("0.10") == 0 and snap.ask % Decimal("0.10") == 0
        assert snap.spread / snap.mid < Decimal("0.0005")  # under 5 bp
        assert snap.bid_qty > 0 and snap.ask_qty > 0 and snap.volume > 0


def test_synthetic_walk_moves_like_a_random_walk_and_stays_in_a_plausible_range():
    feed = SyntheticFeed(seed=42)
    hourly = [feed.snapshot("BTCUSDT", MOMENT + timedelta(hours=h)).mid for h in range(24 * 60)]
    moves = [abs(b / a - 1) for a, b in itertools.pairwise(hourly)]
    assert len(set(hourly)) > 1000  # it moves
    # 60% a year is about 0.64% an hour: the typical hourly move is of that order.
    typical = sorted(moves)[len(moves) // 2]
    assert Decimal("0.001") < typical < Decimal("0.02")
    assert Decimal("20000") < min(hourly) and max(hourly) < Decimal("180000")


def test_walk_is_continuous_across_its_pinning_points():
    feed = SyntheticFeed(seed=42)
    pin = datetime.fromtimestamp(EPOCH + (1 << 24), UTC)
    before = feed.snapshot("BTCUSDT", pin - timedelta(seconds=1)).mid
    after = feed.snapshot("BTCUSDT", pin + timedelta(seconds=1)).mid
    assert abs(after / before - 1) < Decimal("0.001")


def test_replay_feed_plays_the_bundled_candles_in_a_loop():
    bars = load_bundled_candles()
    assert len(bars) == 8686
    assert bars[0].open_time == datetime(2021, 9, 27, 13, 45, tzinfo=UTC)
    feed = ReplayFeed(seed=1)
    start = datetime.fromtimestamp(EPOCH, UTC)
    # At a bar's open the replay shows the recorded open.
    snap = feed.snapshot("BTCUSDT", start)
    assert abs(snap.mid - bars[0].open) <= Decimal("0.10")
    assert replay_bar_for(start) == bars[0]
    loop = timedelta(seconds=len(bars) * BAR_SECONDS)
    later = start + timedelta(minutes=20)
    assert feed.snapshot("BTCUSDT", later + loop).mid == feed.snapshot("BTCUSDT", later).mid


def test_replay_hourly_candles_aggregate_the_recorded_bars_exactly():
    feed = ReplayFeed(seed=1)
    bars = load_bundled_candles()
    start = datetime.fromtimestamp(EPOCH + 40 * BAR_SECONDS, UTC)  # bar 40 opens an hour
    candles = feed.candles("BTCUSDT", "1h", now=start + timedelta(hours=2), since=start, limit=1)
    [candle] = candles
    recorded = bars[40:44]
    assert candle.open_time == start
    assert candle.open == recorded[0].open.quantize(Decimal("0.1"))
    assert candle.high == max(b.high for b in recorded).quantize(Decimal("0.1"))
    assert candle.low == min(b.low for b in recorded).quantize(Decimal("0.1"))
    assert candle.close == recorded[-1].close.quantize(Decimal("0.1"))


def test_replay_scales_other_symbols_from_btc():
    feed = ReplayFeed(seed=1)
    btc = feed.snapshot("BTCUSDT", MOMENT).mid
    eth = feed.snapshot("ETHUSDT", MOMENT).mid
    assert abs(eth / btc - Decimal("0.075")) < Decimal("0.0001")


@pytest.mark.parametrize("kind", ["synthetic", "replay"])
def test_ohlcv_works_offline_on_both_feeds(kind):
    feed = feed_create(kind=kind, seed=3)
    candles = feed.candles("BTCUSDT", "5m", now=MOMENT, limit=50)
    assert len(candles) == 50
    assert candles[-1].open_time == datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # still open
    assert all(
        b.open_time - a.open_time == timedelta(minutes=5) for a, b in itertools.pairwise(candles)
    )
    for candle in candles:
        assert (
            candle.low
            <= min(candle.open, candle.close)
            <= max(candle.open, candle.close)
            <= candle.high
        )
    # Closed candles never change as time goes on; the open one grows.
    again = feed.candles("BTCUSDT", "5m", now=MOMENT + timedelta(seconds=30), limit=50)
    assert again[:-1] == candles[:-1]


def test_ohlcv_since_returns_candles_from_that_time():
    feed = SyntheticFeed(seed=3)
    since = MOMENT - timedelta(hours=1, seconds=30)
    candles = feed.candles("BTCUSDT", "15m", now=MOMENT, since=since, limit=10)
    assert candles[0].open_time == datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
    assert len(candles) == 5


def test_unknown_timeframe_and_symbol_are_refused():
    feed = SyntheticFeed(seed=3)
    with pytest.raises(ExchangeError, match="timeframe"):
        feed.candles("BTCUSDT", "7m", now=MOMENT)
    with pytest.raises(UnknownSymbolError):
        feed.snapshot("BTCEUR", MOMENT)


def test_feed_create_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="synthetic, replay"):
        feed_create(kind="live", seed=1)


@pytest.mark.parametrize("feed_class", [SyntheticFeed, ReplayFeed])
def test_mid_price_and_bid_ask_are_the_snapshots_to_the_last_digit(feed_class):
    feed, reference = feed_class(seed=3), feed_class(seed=3)
    moment = datetime(2026, 3, 2, 12, 0, 0, 250_000, tzinfo=UTC)
    for symbol in [*CATALOGUE, "PEPEUSDT"]:
        for step in range(0, 40, 3):
            # Several moments within one second, then the next seconds.
            at = moment + timedelta(milliseconds=step * 170)
            book = reference.snapshot(symbol, at)
            mid = feed.mid_price(symbol, at)
            assert (mid, str(mid)) == (book.mid, str(book.mid))
            assert feed.bid_ask(symbol, at) == (book.bid, book.ask)


def test_mid_price_of_a_feed_that_quotes_its_own_book_is_its_snapshot_mid(feed, clock):
    # The scripted feed overrides snapshot: its book, not the spread model, is the price.
    assert feed.mid_price("BTCUSDT", clock.now) == Decimal("60000.05")
    feed.set("BTCUSDT", "61000.0", "61000.2")  # same second, new book: nothing stale
    assert feed.mid_price("BTCUSDT", clock.now) == Decimal("61000.1")
    assert feed.bid_ask("BTCUSDT", clock.now) == (Decimal("61000.0"), Decimal("61000.2"))
