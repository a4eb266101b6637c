from __future__ import annotations

import numpy as np
import pytest

from prediction.indicators import OHLCV
from prediction.services.candles import sample_frame


@pytest.fixture(scope="session")
def sample():
    """The bundled real 15-minute BTC candles as a DataFrame (no database)."""
    return sample_frame()


@pytest.fixture(scope="session")
def sample_bars(sample) -> OHLCV:
    return OHLCV.from_frame(sample)


def synthetic_bars(n: int, seed: int = 7) -> OHLCV:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.002, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.002, n))
    volume = rng.uniform(0, 5, n)
    return OHLCV(open_, high, low, close, volume)
