"""Market data without network: a seeded synthetic feed and a replay of bundled candles.

Both are pure functions of (seed, symbol, time): every process computes the same price
for the same moment without sharing any state, which is what lets the paper exchange run
in the web server, the trader and Celery workers at once and stay deterministic.
"""

from __future__ import annotations

from exchanges.market_data.base import PriceFeed, timeframe_seconds
from exchanges.market_data.replay import ReplayFeed, load_bundled_candles
from exchanges.market_data.synthetic import SyntheticFeed

FEEDS = {"synthetic": SyntheticFeed, "replay": ReplayFeed}


def feed_create(*, kind: str, seed: int) -> PriceFeed:
    """The feed named by settings.PAPER_FEED ("synthetic" or "replay")."""
    try:
        feed_class = FEEDS[kind]
    except KeyError:
        raise ValueError(
            f"unknown market data feed {kind!r}; choose one of {', '.join(FEEDS)}"
        ) from None
    return feed_class(seed=seed)


__all__ = [
    "FEEDS",
    "PriceFeed",
    "ReplayFeed",
    "SyntheticFeed",
    "feed_create",
    "load_bundled_candles",
    "timeframe_seconds",
]
