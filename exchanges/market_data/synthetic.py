"""A seeded random walk per symbol that any process can evaluate at any second.

The log price is a Brownian motion built top-down as a Brownian bridge over dyadic
intervals: the value at the midpoint of an interval is the mean of its ends plus a normal
draw whose key is the interval itself. So the price at any second is a pure function of
(seed, symbol, second), costs one path from the root (24 levels, and far fewer for the
next second, which shares most of that path), and needs no stored state.

The walk is pinned to the symbol's base price every 2^24 seconds (about 194 days), which
keeps prices in a realistic range forever (two standard deviations are about ±30% for
BTC at 60% volatility) without any visible seam: the bridge is continuous there.
"""

from __future__ import annotations

import math
import threading
from datetime import UTC, datetime

from exchanges.market_data.base import PriceFeed, normal, stream_key

_BLOCK_BITS = 24
_BLOCK = 1 << _BLOCK_BITS
_SECONDS_PER_YEAR = 365.25 * 86400
#: Seconds are counted from here, so the path does not depend on when a process started.
EPOCH = int(datetime(2020, 1, 1, tzinfo=UTC).timestamp())


class _Walk:
    """The bridge of one symbol, with the last descent cached per thread."""

    def __init__(self, key: int, volatility: float):
        self.key = key
        sigma = volatility / math.sqrt(_SECONDS_PER_YEAR)
        # Standard deviation of the midpoint of an interval of 2^(24-level) seconds given
        # its ends: sqrt(length / 4) * sigma.
        self.midpoint_sd = [
            sigma * math.sqrt((1 << (_BLOCK_BITS - level)) / 4) for level in range(_BLOCK_BITS)
        ]
        self._local = threading.local()

    def value(self, second: int) -> float:
        block, offset = divmod(second - EPOCH, _BLOCK)
        if offset == 0:
            return 0.0
        local = self._local
        path = getattr(local, "path", None)
        if path is None or local.block != block:
            # path[level] = (lo, hi, w(lo), w(hi)) of the interval descended at that level.
            path = [(0, _BLOCK, 0.0, 0.0)]
            local.path, local.block = path, block
        # Resume from the deepest cached interval that still contains the offset.
        level = len(path) - 1
        while level > 0 and not path[level][0] <= offset <= path[level][1]:
            level -= 1
        del path[level + 1 :]
        lo, hi, w_lo, w_hi = path[level]
        block_key = self.key ^ (block << 40)
        sds = self.midpoint_sd
        while True:
            if offset == lo:
                return w_lo
            if offset == hi:
                return w_hi
            mid = (lo + hi) >> 1
            w_mid = 0.5 * (w_lo + w_hi) + sds[level] * normal(block_key ^ (level << 32) ^ mid)
            if offset < mid:
                hi, w_hi = mid, w_mid
            else:
                lo, w_lo = mid, w_mid
            level += 1
            path.append((lo, hi, w_lo, w_hi))


class SyntheticFeed(PriceFeed):
    name = "synthetic"

    def __init__(self, *, seed: int):
        super().__init__(seed=seed)
        self._walks: dict[str, _Walk] = {}
        self._volume_keys: dict[str, int] = {}

    def _walk(self, symbol: str) -> _Walk:
        walk = self._walks.get(symbol)
        if walk is None:
            spec = self.spec(symbol)
            walk = _Walk(stream_key(self.seed, symbol, "walk"), spec.volatility)
            self._walks[symbol] = walk
        return walk

    def mid_at(self, symbol: str, second: int) -> float:
        spec = self.spec(symbol)
        return float(spec.base_price) * math.exp(self._walk(symbol).value(second))

    def volume_rate(self, symbol: str, second: int) -> float:
        key = self._volume_keys.get(symbol)
        if key is None:
            key = self._volume_keys[symbol] = stream_key(self.seed, symbol, "volume")
        # Activity changes minute by minute, log-normally around the symbol's typical rate.
        return self.spec(symbol).volume_per_second * math.exp(0.5 * normal(key ^ (second // 60)))
