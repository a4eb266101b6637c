"""The event-driven engine: the live trading strategy classes, unchanged, fed two
MarketSnapshots per bar, as a live tick would see the bar begin and end.

Per bar i, in order:
1. market intents emitted at bar i-1's last quote fill at bar i's open (slippage against
   us, price on the tick grid, rounded against us);
2. the opening snapshot: timestamp = the bar's open time, bid/ask around the open. A
   bar-building strategy (Technical) closes bar i-1 on it, as live it closes a bar on the
   first snapshot after the close, and its market intents fill at this same open: a
   signal on bar i-1's close fills at bar i's open, like the vectorised engine and
   backtesting.py;
3. resting limit intents fill if bar i trades through them: a buy when low <= limit, at
   the limit, or at the open when the bar opens below it (a sell mirrors this);
4. the last snapshot of the bar: timestamp = 1 ms before the bar's close, bid/ask around
   the close; its market intents wait for the next bar's open.
Quotes are the price -/+ half of `spread_bps` (bars carry no quotes; 1 bp is typical of
BTCUSDT perpetuals), floored/ceiled to the tick grid; volume is None, as in the live
tick's bookTicker snapshots, unless `snapshot_volume` asks for it (the bar's volume on
its last snapshot, 0 on the opening one).
Intents are accepted once per key (a repeated key is ignored, as the database refuses a
second order per key). Every fill is reported back through on_order_update (status
"filled", and "open" when a limit intent is accepted). Positions are net (one-way mode);
reduce-only intents are clipped to the open position. Fees: `fee_rate` of the notional
on every fill.

Sizing: with sizing "strategy" the strategy's own quantities trade. With "fraction" or
"fixed" (technical strategies only, whose entries are one order each) the strategy
still decides when and which way, and hears back the quantities it asked for, while the
engine trades the sized amount: at each entry from flat it fixes the multiple of the
strategy's quantity that the sizing rule asks for, and keeps it until the trade ends.

Money inside the loop stays Decimal where the strategy sees it (quotes, fill prices,
quantities); the equity curve is computed afterwards from the fills with numpy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from itertools import accumulate, repeat
from operator import add

import numpy as np

from exchanges.base import BUY, SELL, MarketSnapshot
from prediction.backtest.config import BacktestSettings
from prediction.backtest.metrics import all_metrics
from prediction.backtest.vectorised import BacktestResult, TradeArrays
from trading.strategies.base import ExternalSignal, OrderUpdate, Strategy
from xquant.errors import ValidationError

FILLED, OPEN, REJECTED = "filled", "open", "rejected"


#: The fills, flat: bar, intent key, side, quantity, price, fee, then the next fill's.
#: Atoms in one list are no work for the cyclic garbage collector; an object per fill
#: (tens of thousands) made it sweep the whole heap during a backtest.
FILL_FIELDS = 6


def _decimal_factory(step: float) -> Callable[[int], Decimal]:
    """int multiple of `step` → Decimal, exactly and cheaply (a few hundred ns)."""
    step_dec = Decimal(repr(step)).normalize()
    exponent = step_dec.as_tuple().exponent
    if step_dec == Decimal(1).scaleb(exponent):
        return lambda units: Decimal(units).scaleb(exponent)
    return lambda units: Decimal(units) * step_dec


def quote_ticks(
    close: np.ndarray, *, spread_bps: float, tick: float
) -> tuple[np.ndarray, np.ndarray]:
    """Bid and ask of every bar, in ticks: the close -/+ half the spread, outward to the grid."""
    half = close * (spread_bps / 20_000.0)
    bid = np.floor(_snap_to_grid((close - half) / tick)).astype(np.int64)
    ask = np.ceil(_snap_to_grid((close + half) / tick)).astype(np.int64)
    np.maximum(ask, bid, out=ask)
    return bid, ask


def _decimals(units: np.ndarray, step: float) -> list[Decimal]:
    """Integer multiples of `step` as exact Decimals, converted in C-level passes."""
    step_dec = Decimal(repr(step)).normalize()
    exponent = step_dec.as_tuple().exponent
    ints = map(Decimal, units.tolist())
    if step_dec == Decimal(1).scaleb(exponent):
        return list(map(Decimal.scaleb, ints, repeat(exponent)))
    return list(map(Decimal.__mul__, ints, repeat(step_dec)))


def _decimal_walk(units: np.ndarray, step: float) -> list[Decimal]:
    """Integer multiples of `step` as exact Decimals, like `_decimals`, for a series that
    moves a little from one value to the next (prices bar by bar): the first is built,
    each next one is the previous plus its change. A Decimal addition costs a third of a
    Decimal built from an int, and a chunk's changes take few distinct values, each built
    once. Additions of multiples of `step` are exact, and keep its exponent."""
    if len(units) < 2:
        return _decimals(units, step)
    changes, index = np.unique(np.diff(units), return_inverse=True)
    moves = map(_decimals(changes, step).__getitem__, index.tolist())
    return list(accumulate(moves, add, initial=_decimals(units[:1], step)[0]))


def _quote_decimals(
    close: np.ndarray, *, spread_bps: float, tick: float
) -> tuple[list[Decimal], list[Decimal]]:
    """Bids, and asks as bid plus spread (the spreads in ticks take few values)."""
    bid_ticks, ask_ticks = quote_ticks(close, spread_bps=spread_bps, tick=tick)
    bids = _decimal_walk(bid_ticks, tick)
    spreads, index = np.unique(ask_ticks - bid_ticks, return_inverse=True)
    asks = list(map(add, bids, map(_decimals(spreads, tick).__getitem__, index.tolist())))
    return bids, asks


def _open_quote_decimals(
    open_: np.ndarray,
    close: np.ndarray,
    closing: tuple[list[Decimal], list[Decimal]],
    *,
    spread_bps: float,
    tick: float,
) -> tuple[list[Decimal], list[Decimal]]:
    """Opening quotes; a bar usually opens where the last one closed, and then shares
    its Decimals (building a million Decimals is a fifth of a backtest)."""
    open_ticks = quote_ticks(open_, spread_bps=spread_bps, tick=tick)
    close_ticks = quote_ticks(close, spread_bps=spread_bps, tick=tick)
    out = []
    for ticks, previous_ticks, previous in zip(open_ticks, close_ticks, closing, strict=True):
        quotes = [None, *previous[:-1]]
        same = np.zeros(len(ticks), dtype=bool)
        same[1:] = ticks[1:] == previous_ticks[:-1]
        fresh = np.flatnonzero(~same)
        for i, value in zip(fresh.tolist(), _decimals(ticks[fresh], tick), strict=True):
            quotes[i] = value
        out.append(quotes)
    return out[0], out[1]


def _volume_decimals(volume: np.ndarray) -> list[Decimal]:
    """Bar volumes to 1e-8 (the satoshi), as Decimals."""
    return _decimals(np.rint(volume * 1e8).astype(np.int64), 1e-8)


def _stamps(times: np.ndarray, bar_seconds: int, after: timedelta) -> list[datetime]:
    """Aware UTC time `after` each bar's open; a regular series is a running sum of one
    timedelta (25 ns a bar instead of 200 for fromtimestamp)."""
    if not len(times):
        return []
    if len(times) > 1 and (np.diff(times) == bar_seconds).all():
        first = datetime.fromtimestamp(int(times[0]), UTC) + after
        return list(
            accumulate(repeat(timedelta(seconds=bar_seconds), len(times) - 1), add, initial=first)
        )
    return [datetime.fromtimestamp(t, UTC) + after for t in times.tolist()]


def _snap_to_grid(ticks: np.ndarray) -> np.ndarray:
    """A price already on the grid must not move a tick through float noise
    (43548.7734375 / 1e-7 is 435487734374.99994 in binary)."""
    nearest = np.rint(ticks)
    return np.where(np.abs(ticks - nearest) < 1e-6, nearest, ticks)


def _ticks_up(x: float) -> int:
    r = round(x)
    return r if abs(x - r) < 1e-6 else math.ceil(x)


def _ticks_down(x: float) -> int:
    r = round(x)
    return r if abs(x - r) < 1e-6 else math.floor(x)


#: Strategy kinds whose entries are one market order each, so the engine may size them:
#: the strategy decides when and which way, the settings decide how much.
SIZABLE_KINDS = ("technical",)
#: The last quote of a bar is stamped this long before its close (Binance stamps
#: bookTicker to the millisecond).
LAST_QUOTE_BEFORE_CLOSE = timedelta(milliseconds=1)


def event_driven_sizing_check(*, kind: str, settings: BacktestSettings) -> None:
    """ValidationError unless the engine can honour `settings.sizing` for this kind."""
    if settings.sizing == "strategy" or kind in SIZABLE_KINDS:
        return
    raise ValidationError(
        f"Sizing {settings.sizing!r} cannot be applied to the {kind} strategy: it works its "
        "own quantities over several orders. Use sizing 'strategy' (its quantity "
        "parameters), or a technical strategy for fraction or fixed sizing.",
        extra={"fields": {"sizing": [f"Only 'strategy' for {kind}."]}},
    )


def run_event_driven(
    *,
    strategy: Strategy,
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    times: np.ndarray,
    bar_seconds: int,
    settings: BacktestSettings,
    signal: ExternalSignal | None = None,
    progress: Callable[[int, int], None] | None = None,
    progress_every: int = 50_000,
    snapshot_volume: bool = False,
) -> BacktestResult:
    """`times` are bar open times in seconds since the epoch."""
    event_driven_sizing_check(kind=strategy.kind, settings=settings)
    Snapshot = MarketSnapshot
    n = len(close)
    symbol = strategy.symbol
    tick = settings.tick_size
    price_of = _decimal_factory(tick)
    int_times = np.asarray(times, dtype=np.int64)
    last_after = timedelta(seconds=bar_seconds) - LAST_QUOTE_BEFORE_CLOSE
    spread = settings.spread_bps

    def snapshots(start: int, stop: int) -> tuple[Iterator, Iterator]:
        """The opening and the last snapshots of bars [start, stop). Their quotes and
        stamps are built in C-level passes one chunk at a time (a million bars'
        Decimals at once take gigabytes); the snapshots themselves come one at a time
        from `map` as the loop asks for them: a list of 50,000 at once would wake the
        cyclic garbage collector over and over."""
        chunk = slice(start, stop)
        bids, asks = _quote_decimals(close[chunk], spread_bps=spread, tick=tick)
        open_bids, open_asks = _open_quote_decimals(
            open_[chunk], close[chunk], (bids, asks), spread_bps=spread, tick=tick
        )
        open_stamps = _stamps(int_times[chunk], bar_seconds, timedelta(0))
        stamps = _stamps(int_times[chunk], bar_seconds, last_after)
        names = repeat(symbol)
        if not snapshot_volume:
            return (
                map(Snapshot, names, open_bids, open_asks, open_stamps),
                map(Snapshot, names, bids, asks, stamps),
            )
        nones, zeros = repeat(None), repeat(Decimal(0))
        return (
            map(Snapshot, names, open_bids, open_asks, open_stamps, nones, nones, zeros),
            map(Snapshot, names, bids, asks, stamps, nones, nones, _volume_decimals(volume[chunk])),
        )

    opens = open_.tolist()
    highs = high.tolist()
    lows = low.tolist()
    slip = settings.slippage_bps / 10_000.0
    fee_rate = settings.fee_rate
    sized = settings.sizing != "strategy"
    # Fraction sizing: the share of equity that becomes notional (see BacktestSettings).
    share = settings.fraction / (1.0 + fee_rate) if settings.fee_inside else settings.fraction

    fills: list = []
    #: In the strategy's units (what it asked for and heard back) ...
    position = Decimal(0)
    #: ... and in the engine's (`sized`: scaled by the sizing rule at each entry).
    units = 0.0
    scale = 1.0
    cash = settings.initial_capital
    pending_market: list = []
    resting: list = []
    seen_keys: set[str] = set()
    on_data = (
        strategy.on_market_data
        if signal is None
        else partial(strategy.on_market_data, signal=signal)
    )
    on_update = strategy.on_order_update

    def entry_units(price: float, equity: float) -> float:
        if settings.sizing == "fixed":
            return settings.quantity
        return share * equity / price

    def sized_units(signed: Decimal, price: float) -> Decimal:
        """The engine's signed quantity for a fill of `signed` strategy units: the same
        multiple of the strategy's quantity for the whole trade, fixed at its entry."""
        nonlocal scale
        s = float(signed)
        if position == 0 or (s > 0) == (position > 0):
            if position == 0:
                scale = entry_units(price, cash) / abs(s)
            return Decimal(s * scale)
        if abs(signed) <= abs(position):
            # An exit of the whole position closes exactly what is held.
            return Decimal(-units) if abs(signed) == abs(position) else Decimal(s * scale)
        # A reversal: close what is held, then enter the rest at a new scale.
        rest = s + float(position)
        equity = cash + units * price - abs(units) * price * fee_rate
        scale = entry_units(price, equity) / abs(rest)
        return Decimal(-units + rest * scale)

    def fill(i: int, intent, price: Decimal) -> None:
        nonlocal position, units, cash
        qty = intent.quantity
        if intent.reduce_only:
            # Reduce-only may only shrink the open position, never flip or grow it.
            reducible = -position if intent.side == BUY else position
            qty = min(qty, reducible) if reducible > 0 else Decimal(0)
            if qty <= 0:
                on_update(OrderUpdate(intent.key, intent.side, REJECTED, Decimal(0), None))
                return
        signed = qty if intent.side == BUY else -qty
        real = sized_units(signed, float(price)) if sized else signed
        position += signed
        fee = abs(float(real * price)) * fee_rate
        units += float(real)
        cash -= float(real * price) + fee
        if real > 0:
            fills.extend((i, intent.key, BUY, real, price, fee))
        elif real < 0:
            fills.extend((i, intent.key, SELL, -real, price, fee))
        on_update(OrderUpdate(intent.key, intent.side, FILLED, qty, price))

    def market_price(i: int, side: str) -> Decimal:
        if side == BUY:
            return price_of(_ticks_up(opens[i] * (1.0 + slip) / tick))
        return price_of(_ticks_down(opens[i] * (1.0 - slip) / tick))

    def cross_limits(i: int) -> None:
        still = []
        o, h, lo = opens[i], highs[i], lows[i]
        for intent in resting:
            limit = float(intent.price)
            if intent.side == BUY:
                if o <= limit:
                    fill(i, intent, min(intent.price, price_of(_ticks_up(o / tick))))
                    continue
                if lo <= limit:
                    fill(i, intent, intent.price)
                    continue
            else:
                if o >= limit:
                    fill(i, intent, max(intent.price, price_of(_ticks_down(o / tick))))
                    continue
                if h >= limit:
                    fill(i, intent, intent.price)
                    continue
            still.append(intent)
        resting[:] = still

    def accept(intents) -> None:
        for intent in intents:
            if intent.key in seen_keys:
                continue
            seen_keys.add(intent.key)
            if intent.order_type == "LIMIT" and intent.price is not None:
                resting.append(intent)
                on_update(OrderUpdate(intent.key, intent.side, OPEN, Decimal(0), None))
            else:
                pending_market.append(intent)

    def fill_market(i: int) -> None:
        for intent in pending_market:
            fill(i, intent, market_price(i, intent.side))
        pending_market.clear()

    # The hot loop: everything per bar was prepared in C-level passes, so a bar costs
    # two snapshots, two strategy calls and a few emptiness checks.
    for start in range(0, n, progress_every):
        stop = min(n, start + progress_every)
        for i, opening, last in zip(range(start, stop), *snapshots(start, stop), strict=True):
            # The bar opens: what the last bar's close decided fills at this open, and
            # the opening quote closes the last bar for a bar-building strategy, whose
            # decision fills at this same open (live: seconds after the close).
            if pending_market:
                fill_market(i)
            intents = on_data(opening)
            if intents:
                accept(intents)
                if pending_market:
                    fill_market(i)
            if resting:
                cross_limits(i)
            # The bar's last quote, at its close price.
            intents = on_data(last)
            if intents:
                accept(intents)
        if progress:
            progress(stop, n)

    return _result_from_fills(
        fills=fills, close=close, times=times, bar_seconds=bar_seconds, settings=settings
    )


def _result_from_fills(
    *,
    fills: list,
    close: np.ndarray,
    times: np.ndarray,
    bar_seconds: int,
    settings: BacktestSettings,
) -> BacktestResult:
    n = len(close)
    k = FILL_FIELDS
    bars = np.array(fills[0::k], dtype=np.int64)
    signed = np.array(
        [
            float(q) if side == BUY else -float(q)
            for side, q in zip(fills[2::k], fills[3::k], strict=True)
        ],
        dtype=np.float64,
    )
    prices = np.array([float(p) for p in fills[4::k]], dtype=np.float64)
    fees = np.array(fills[5::k], dtype=np.float64)
    units = np.cumsum(np.bincount(bars, weights=signed, minlength=n)) if fills else np.zeros(n)
    cash_flow = (
        np.bincount(bars, weights=-signed * prices - fees, minlength=n) if fills else np.zeros(n)
    )
    equity = settings.initial_capital + np.cumsum(cash_flow) + units * close
    # Avoid -0.0 noise in the exposure count after partial closes.
    held = np.sign(np.where(np.abs(units) < 1e-12, 0.0, units)).astype(np.int8)
    trades = _round_trips(fills, close)
    metrics = all_metrics(
        equity=equity,
        trade_pnl=trades.pnl[trades.closed],
        exposure_bars=int(np.count_nonzero(held)),
        times=times,
        periods_per_year=settings.periods_per_year,
        initial=settings.initial_capital,
        fees=float(fees.sum()),
    )
    return BacktestResult(equity=equity, trades=trades, metrics=metrics, held=held)


def _round_trips(fills: list, close: np.ndarray) -> TradeArrays:
    """Trades from fills: a trade opens when the position leaves zero and closes when it
    returns to zero (a flip closes one and opens the next at the same price). Entry and
    exit prices are quantity-weighted averages; PnL is net of every fee paid in it, a
    flipping fill's fee split by quantity."""
    rows: list = []  # flat, eight values a trade (see FILL_FIELDS)
    pos = 0.0
    side = 0  # of the open trade; 0 when flat
    start = 0
    in_q = in_v = out_q = out_v = fees = pnl = 0.0
    for bar, _, fill_side, quantity, price, fee in zip(*[iter(fills)] * FILL_FIELDS, strict=True):
        q = float(quantity)
        signed = q if fill_side == BUY else -q
        p = float(price)
        fee_per_unit = fee / q if q else 0.0
        while signed:
            if side == 0:
                side, start = (1 if signed > 0 else -1), bar
                in_q = in_v = out_q = out_v = fees = pnl = 0.0
            if (signed > 0) == (side > 0):
                size = abs(signed)
                in_q += size
                in_v += size * p
                fees += size * fee_per_unit
                pos += signed
                break
            closing = min(abs(signed), abs(pos))
            avg_in = in_v / in_q
            pnl += closing * side * (p - avg_in)
            out_q += closing
            out_v += closing * p
            fees += closing * fee_per_unit
            pos -= side * closing
            signed += side * closing
            if abs(pos) < 1e-12:
                rows += (side, start, bar, avg_in, out_v / out_q, in_q, pnl - fees, fees)
                pos, side = 0.0, 0
            if abs(signed) < 1e-12:
                break
    if side != 0:
        avg_in = in_v / in_q
        marked = pnl + pos * (float(close[-1]) - avg_in)
        rows += (side, start, -1, avg_in, np.nan, in_q, marked - fees, fees)
    cols = [rows[c::8] for c in range(8)]
    return TradeArrays(
        side=np.array(cols[0], dtype=np.int8),
        entry_bar=np.array(cols[1], dtype=np.int64),
        exit_bar=np.array(cols[2], dtype=np.int64),
        entry_price=np.array(cols[3], dtype=np.float64),
        exit_price=np.array(cols[4], dtype=np.float64),
        units=np.array(cols[5], dtype=np.float64),
        pnl=np.array(cols[6], dtype=np.float64),
        fees=np.array(cols[7], dtype=np.float64),
    )
