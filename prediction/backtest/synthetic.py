"""Seeded synthetic one-minute bars for benchmarks and tests (no database)."""

from __future__ import annotations

import numpy as np

from prediction.indicators import OHLCV

#: 2024-01-01T00:00:00Z
EPOCH_2024 = 1_704_067_200


def synthetic_minute_bars(
    n: int, *, seed: int = 42, start_price: float = 40_000.0
) -> tuple[OHLCV, np.ndarray]:
    """(bars, open times in seconds): a geometric random walk with BTC-like one-minute
    volatility (0.08 %), prices on the 0.01 grid, each bar opening at the previous close."""
    rng = np.random.default_rng(seed)
    close = np.round(start_price * np.exp(np.cumsum(rng.normal(0.0, 0.0008, n))), 2)
    open_ = np.empty(n)
    open_[0] = start_price
    open_[1:] = close[:-1]
    wick = np.abs(rng.normal(0.0, 0.0004, (2, n)))
    high = np.round(np.maximum(open_, close) * (1 + wick[0]), 2)
    low = np.round(np.minimum(open_, close) * (1 - wick[1]), 2)
    volume = np.round(rng.gamma(2.0, 5.0, n), 3)
    times = EPOCH_2024 + 60 * np.arange(n, dtype=np.int64)
    return OHLCV(open_, high, low, close, volume), times
