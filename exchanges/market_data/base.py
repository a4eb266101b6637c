"""What both offline feeds share: the feed interface, timeframes, a counter-based random
generator, the spread model and candles built by sampling a price path."""

from __future__ import annotations

import abc
import hashlib
import math
from datetime import UTC, datetime
from decimal import Decimal

from exchanges.base import Candle, MarketSnapshot
from exchanges.errors import ExchangeError, UnknownSymbolError
from exchanges.symbols import SymbolSpec, symbol_spec

_MASK = (1 << 64) - 1
_TWO_PI = 2 * math.pi
_UNIT = 1.0 / (1 << 53)

TIMEFRAMES = {
    "1m": 60,
    "3m": 180,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "2h": 7200,
    "4h": 14400,
    "6h": 21600,
    "8h": 28800,
    "12h": 43200,
    "1d": 86400,
    "3d": 259200,
    "1w": 604800,
}
# Binance weeks open on Monday; 1970-01-01 was a Thursday.
_WEEK_ALIGNMENT = 4 * 86400
# Points sampled per candle to find its high and low.
_SAMPLES_PER_CANDLE = 8
_CANDLE_CACHE_SIZE = 100_000


def timeframe_seconds(timeframe: str) -> int:
    try:
        return TIMEFRAMES[timeframe]
    except KeyError:
        raise ExchangeError(
            f"timeframe {timeframe!r} is not available offline; use one of {', '.join(TIMEFRAMES)}",
            code="exchange.bad_timeframe",
        ) from None


def candle_open(second: int, frame: int) -> int:
    """Open time (epoch seconds) of the candle of length `frame` that contains `second`."""
    shift = _WEEK_ALIGNMENT if frame == TIMEFRAMES["1w"] else 0
    return second - (second - shift) % frame


# --- deterministic randomness ----------------------------------------------------------
# A counter-based generator: the random number for a key is a hash of the key, so any
# point of a path can be computed without generating the ones before it.
def splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def uniform(key: int) -> float:
    """In (0, 1)."""
    return ((splitmix64(key) >> 11) + 0.5) * _UNIT


def normal(key: int) -> float:
    """Standard normal (Box-Muller over two hashes of the key)."""
    # splitmix64 inlined twice: this is the inner loop of the synthetic walk.
    x = (key + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    y = ((key ^ 0x5851F42D4C957F2D) + 0x9E3779B97F4A7C15) & _MASK
    y = ((y ^ (y >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    y = ((y ^ (y >> 27)) * 0x94D049BB133111EB) & _MASK
    u1 = (((x ^ (x >> 31)) >> 11) + 0.5) * _UNIT
    u2 = (((y ^ (y >> 31)) >> 11) + 0.5) * _UNIT
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(_TWO_PI * u2)


def stream_key(seed: int, symbol: str, stream: str) -> int:
    """A stable 64-bit key per (seed, symbol, purpose); Python's hash() is salted per process."""
    digest = hashlib.blake2b(f"{seed}:{symbol}:{stream}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


# --- feeds ----------------------------------------------------------------------------
class PriceFeed(abc.ABC):
    """Top of book and candles for any known symbol at any moment."""

    name: str

    def __init__(self, *, seed: int):
        self.seed = seed
        self._keys: dict[str, tuple[int, int]] = {}
        # Closed candles never change: strategies that re-read their history every tick
        # only pay for the candle still open.
        self._closed_candles: dict[tuple[str, int, int], Candle] = {}
        # symbol -> (second, mid): marking a hundred positions per order asks for the same
        # few symbols many times within one second.
        self._mids: dict[str, tuple[int, Decimal]] = {}

    # Subclasses provide the mid price path.
    @abc.abstractmethod
    def mid_at(self, symbol: str, second: int) -> float:
        """Mid price at an epoch second."""

    @abc.abstractmethod
    def volume_rate(self, symbol: str, second: int) -> float:
        """Typical base volume per second around that moment."""

    def spec(self, symbol: str) -> SymbolSpec:
        spec = symbol_spec(symbol)
        if spec is None:
            raise UnknownSymbolError(
                f"{symbol} has no offline market data; use a USDT-margined symbol such as BTCUSDT"
            )
        return spec

    def _noise_keys(self, symbol: str) -> tuple[int, int]:
        keys = self._keys.get(symbol)
        if keys is None:
            keys = (stream_key(self.seed, symbol, "spread"), stream_key(self.seed, symbol, "qty"))
            self._keys[symbol] = keys
        return keys

    def snapshot(self, symbol: str, at: datetime) -> MarketSnapshot:
        spec = self.spec(symbol)
        second = math.floor(at.timestamp())
        bid, ask = self._top_of_book(symbol, spec, second)
        _, qty_key = self._noise_keys(symbol)
        return MarketSnapshot(
            symbol=symbol,
            bid=bid,
            ask=ask,
            timestamp=at,
            bid_qty=self._quantity(spec, spec.top_of_book_qty, qty_key ^ (second << 2)),
            ask_qty=self._quantity(spec, spec.top_of_book_qty, qty_key ^ (second << 2 | 1)),
            volume=self._quantity(
                spec, self.volume_rate(symbol, second), qty_key ^ (second << 2 | 2)
            ),
        )

    def bid_ask(self, symbol: str, at: datetime) -> tuple[Decimal, Decimal]:
        """The bid and ask of `snapshot(symbol, at)`, without drawing its quantities."""
        if self._quotes_own_book():
            book = self.snapshot(symbol, at)
            return book.bid, book.ask
        return self._top_of_book(symbol, self.spec(symbol), math.floor(at.timestamp()))

    def mid_price(self, symbol: str, at: datetime) -> Decimal:
        """`snapshot(symbol, at).mid`, cheaply: the mark price of positions."""
        if self._quotes_own_book():
            return self.snapshot(symbol, at).mid
        second = math.floor(at.timestamp())
        memo = self._mids.get(symbol)
        if memo is not None and memo[0] == second:
            return memo[1]
        bid, ask = self._top_of_book(symbol, self.spec(symbol), second)
        mid = (bid + ask) / 2
        self._mids[symbol] = (second, mid)
        return mid

    def _quotes_own_book(self) -> bool:
        # A subclass that overrides snapshot (a scripted book in tests) is the authority
        # on its prices; the shortcuts below only know the shared spread model.
        return type(self).snapshot is not PriceFeed.snapshot

    def _top_of_book(self, symbol: str, spec: SymbolSpec, second: int) -> tuple[Decimal, Decimal]:
        rules = spec.rules
        mid = self.mid_at(symbol, second)
        spread_key, _ = self._noise_keys(symbol)
        tick = float(rules.tick_size)
        # Spreads vary between half and one and a half times typical, never under a tick.
        spread = mid * spec.spread_bps / 10_000 * (0.5 + uniform(spread_key ^ second))
        spread_ticks = max(1, round(spread / tick))
        bid_ticks = max(1, math.floor(mid / tick - spread_ticks / 2))
        return rules.tick_size * bid_ticks, rules.tick_size * (bid_ticks + spread_ticks)

    @staticmethod
    def _quantity(spec: SymbolSpec, typical: float, key: int) -> Decimal:
        # Log-normal around the typical size, on the step grid, at least one step.
        value = typical * math.exp(0.6 * normal(key) - 0.18)
        step = spec.rules.step_size
        return step * max(1, int(value / float(step)))

    def candles(
        self,
        symbol: str,
        timeframe: str,
        *,
        now: datetime,
        since: datetime | None = None,
        limit: int = 500,
    ) -> list[Candle]:
        """Like Binance klines: oldest first, the last one still open (its close is the
        price at `now`); `since` selects candles opening at or after it."""
        spec = self.spec(symbol)
        frame = timeframe_seconds(timeframe)
        limit = max(1, min(limit, 1500))
        now_s = math.floor(now.timestamp())
        current = candle_open(now_s, frame)
        if since is None:
            first = current - (limit - 1) * frame
        else:
            since_s = math.ceil(since.timestamp())
            first = candle_open(since_s, frame)
            if first < since_s:
                first += frame
        opens = range(first, current + 1, frame)[:limit]
        return [self._cached_candle(spec, open_s, now_s, frame) for open_s in opens]

    def _cached_candle(self, spec: SymbolSpec, start: int, now_s: int, frame: int) -> Candle:
        end = start + frame
        if end > now_s:
            return self._candle(spec, start, now_s, frame)
        key = (spec.rules.symbol, frame, start)
        candle = self._closed_candles.get(key)
        if candle is None:
            if len(self._closed_candles) >= _CANDLE_CACHE_SIZE:
                self._closed_candles.clear()
            candle = self._closed_candles[key] = self._candle(spec, start, end, frame)
        return candle

    def _candle(self, spec: SymbolSpec, start: int, end: int, frame: int) -> Candle:
        symbol = spec.rules.symbol
        span = max(0, end - start)
        step = max(1, span // _SAMPLES_PER_CANDLE)
        points = [self.mid_at(symbol, t) for t in range(start, end, step)]
        points.append(self.mid_at(symbol, end))
        volume = self.volume_rate(symbol, start) * span
        return self._make_candle(
            spec, start, points[0], max(points), min(points), points[-1], volume
        )

    @staticmethod
    def _make_candle(
        spec: SymbolSpec, start: int, o: float, h: float, low: float, c: float, volume: float
    ) -> Candle:
        rules = spec.rules

        def price(value: float) -> Decimal:
            return rules.tick_size * max(1, round(value / float(rules.tick_size)))

        return Candle(
            open_time=datetime.fromtimestamp(start, UTC),
            open=price(o),
            high=price(h),
            low=price(low),
            close=price(c),
            volume=rules.step_size * int(max(0.0, volume) / float(rules.step_size)),
        )
