"""Technical: MA crossover or RSI thresholds on bars built from snapshots.

Hot path: in a backtest this runs once per one-minute bar, a million times, in about a
microsecond each. So the indicators are incremental and O(1) (running sums over a ring
buffer for the SMAs, Wilder smoothing for the RSI), live in plain attributes, compare by
cross-multiplying instead of dividing, and a snapshot inside the current bar costs one
datetime comparison. State is encoded only in dump_state.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from exchanges.base import BUY, MARKET, SELL, MarketSnapshot
from trading.strategies.base import (
    NO_INTENTS,
    ExternalSignal,
    OrderIntent,
    OrderUpdate,
    Strategy,
    register,
)
from trading.strategies.common import (
    DISTANT_PAST,
    TERMINAL_STATUSES,
    ZERO,
    dec,
    dec_str,
    dt_from_iso,
    dt_iso,
    require_on_grid,
)

_HALF = Decimal("0.5")
_HUNDRED = Decimal(100)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Events: the indicator says go long / go flat (or short).
UP, DOWN = 1, -1


class SignalStrategy(Strategy):
    """Bars, indicator events and the strategy's own net position; what to do with an
    event is the subclass's `_on_event`.

    Bars: a bar covers [start, start + bar_seconds) with start a multiple of bar_seconds
    since the epoch; its close is the mid of its last snapshot. A bar is closed by the
    first snapshot of a later bar, and its event is acted on at that snapshot (so a
    signal never uses a price it could not have known). Buckets without snapshots make
    no bar.

    Events fire on the bar where the condition starts, not on every bar it holds:
    ma_cross fires UP on the bar where SMA(fast) goes above SMA(slow) having been at or
    below it on the previous bar, DOWN where it goes below having been at or above;
    rsi fires UP on the bar where Wilder's RSI(rsi_period) goes below rsi_oversold and
    DOWN where it goes above rsi_overbought. The first bar with a defined RSI counts as
    entering its zone; ma_cross needs two bars with both SMAs defined.

    Position: the strategy's own net quantity, from the fills in its order updates. An
    event sets a target (UP: +size; DOWN: 0, or -size with allow_short) and orders what
    reaches it without overshooting whatever its live orders still do: a buy of
    target - (position + live buys) or a sell of (position - live sells) - target. So a
    repeated event never stacks entries, and an exit while an entry order is still
    live sells only what was bought (the late fill shows in `position` for the next
    event). An order that is refused is not retried: the next event decides again.

    Trader's closes: an order a trader placed against this strategy's book (key
    "manual-…", trading.services.positions.position_close) moves `position` by its fills
    like one of its own, so a position closed by hand is not sold a second time by the
    next exit (which would leave the account short).
    """

    def load_state(self, state: dict[str, Any]) -> None:
        params = self.params
        self.quantity: Decimal = require_on_grid(self.rules, "quantity", params["quantity"])
        self._allow_short: bool = params["allow_short"]
        self._size_by_confidence: bool = params["size_by_confidence"]
        self._bar = timedelta(seconds=params["bar_seconds"])
        bars = state.get("bars") or {}
        #: End of the bar being built; the first snapshot at or after it closes that bar.
        self._bar_end: datetime = dt_from_iso(bars.get("end")) or DISTANT_PAST
        close = dec(bars.get("close"))
        #: Last snapshot of the bar being built (its mid is that bar's close so far).
        self._last: MarketSnapshot | None = (
            None
            if close is None
            else MarketSnapshot(self.symbol, close, close, self._bar_end - self._bar)
        )
        # Each sets self._update(close) -> event, the per-bar indicator step.
        if params["signal"] == "ma_cross":
            self._load_ma(state.get("ma") or {})
        else:
            self._load_rsi(state.get("rsi") or {})
        #: Net position from this strategy's fills (positive long, negative short).
        self.position: Decimal = Decimal(state.get("position", "0"))
        #: key -> [+1 buy / -1 sell, quantity, cumulative filled] of live orders.
        self.working: dict[str, list[Any]] = {
            key: [sign, Decimal(q), Decimal(f)]
            for key, (sign, q, f) in (state.get("working") or {}).items()
        }
        #: Orders (or executions, for Combined) started so far; numbers the keys.
        self.sent: int = state.get("sent", 0)
        #: The position the last event asked for.
        self.target: Decimal = Decimal(state.get("target", "0"))
        #: key -> [+1 buy / -1 sell, cumulative filled] of a trader's live orders on
        #: this strategy's book.
        self.manual: dict[str, list[Any]] = {
            key: [sign, Decimal(f)] for key, (sign, f) in (state.get("manual") or {}).items()
        }
        #: What traders' orders moved the position by so far (signed), for the page.
        self.manual_total: Decimal = Decimal(state.get("manual_total", "0"))

    def dump_state(self) -> dict[str, Any]:
        last = self._last
        state: dict[str, Any] = {
            "bars": {
                "end": None if self._bar_end is DISTANT_PAST else dt_iso(self._bar_end),
                "close": None if last is None else str(_close(last)),
            },
            "position": str(self.position),
            "working": {k: [s, str(q), str(f)] for k, (s, q, f) in self.working.items()},
            "sent": self.sent,
            "target": str(self.target),
        }
        # Written once used, so states of strategies nobody traded against keep their shape.
        if self.manual:
            state["manual"] = {k: [s, str(f)] for k, (s, f) in self.manual.items()}
        if self.manual_total:
            state["manual_total"] = str(self.manual_total)
        if self.params["signal"] == "ma_cross":
            state["ma"] = {
                "closes": [str(c) for c in self._buf],
                "i": self._i,
                "filled": self._filled,
                "sign": self._sign,
            }
        else:
            state["rsi"] = {
                "period": self._rsi_period,
                "prev": dec_str(self._prev),
                "count": self._count,
                # repr of a float reads back to the same float.
                "avg_gain": repr(self._ag),
                "avg_loss": repr(self._al),
                "zone": self._zone,
            }
        return state

    # --- bars ---------------------------------------------------------------------------
    def on_market_data(
        self, snapshot: MarketSnapshot, *, signal: ExternalSignal | None = None
    ) -> list[OrderIntent] | tuple[OrderIntent, ...]:
        ts = snapshot.timestamp
        if ts < self._bar_end:
            self._last = snapshot
            return NO_INTENTS
        # `snapshot` opens a new bar; the bar built so far (if any) closes.
        end = self._bar_end + self._bar
        if ts >= end:
            # A gap (or the very first snapshot): align to the bar that holds ts.
            end = ts - (ts - _EPOCH) % self._bar + self._bar
        self._bar_end = end
        last = self._last
        self._last = snapshot
        if last is None:
            return NO_INTENTS
        # _close(last), inlined: this line runs once per bar in a backtest.
        bid, ask = last.bid, last.ask
        event = self._update(bid if bid == ask else (bid + ask) * _HALF)
        if event == 0:
            return NO_INTENTS
        return self._on_event(event, snapshot, signal)

    # --- indicators -----------------------------------------------------------------------
    # Each indicator has a warm-up update and a steady one; once warm, `self._update` is
    # switched to the steady one so the per-bar path carries no warm-up test.
    def _load_ma(self, state: dict[str, Any]) -> None:
        fast, slow = self.params["fast_period"], self.params["slow_period"]
        self._fast, self._slow = fast, slow
        self._fast_d, self._slow_d = Decimal(fast), Decimal(slow)
        closes = state.get("closes")
        if closes is not None and len(closes) == slow:
            self._buf = [Decimal(c) for c in closes]
            self._i: int = state["i"]
            self._filled: int = state["filled"]
            self._sign: int | None = state["sign"]
        else:
            # Ring buffer of the last `slow` closes; zeros stand for closes not seen yet,
            # so the running sums are right from the first bar on.
            self._buf = [ZERO] * slow
            self._i, self._filled, self._sign = 0, 0, None
        buf, i = self._buf, self._i
        self._slow_sum = sum(buf, ZERO)
        self._fast_sum = sum((buf[i - k] for k in range(1, fast + 1)), ZERO)
        self._update = self._update_ma if self._filled == slow else self._warm_up_ma

    def _warm_up_ma(self, close: Decimal) -> int:
        self._push_close(close)
        self._filled += 1
        if self._filled == self._slow:
            self._update = self._update_ma
            self._sign = self._ma_sign()
        return 0

    def _push_close(self, close: Decimal) -> None:
        buf, i = self._buf, self._i
        self._fast_sum += close - buf[i - self._fast]
        self._slow_sum += close - buf[i]
        buf[i] = close
        i += 1
        self._i = 0 if i == self._slow else i

    def _ma_sign(self) -> int:
        # SMA(fast) vs SMA(slow) without dividing: fast_sum/fast vs slow_sum/slow.
        a, b = self._fast_sum * self._slow_d, self._slow_sum * self._fast_d
        return 1 if a > b else (-1 if a < b else 0)

    def _update_ma(self, close: Decimal) -> int:
        # _push_close and _ma_sign inlined: this runs once per bar in a backtest.
        buf = self._buf
        i = self._i
        # buf[i] is the oldest close (leaving the slow window); buf[i - fast] (a negative
        # index wraps) is the one leaving the fast window.
        fast_sum = self._fast_sum = self._fast_sum + close - buf[i - self._fast]
        slow_sum = self._slow_sum = self._slow_sum + close - buf[i]
        a, b = fast_sum * self._slow_d, slow_sum * self._fast_d
        buf[i] = close
        i += 1
        self._i = 0 if i == self._slow else i
        sign = 1 if a > b else (-1 if a < b else 0)
        previous = self._sign
        if sign == previous:
            return 0
        self._sign = sign
        if sign == 0:
            return 0
        return UP if sign > 0 else DOWN

    def sma(self, period: int) -> Decimal | None:
        """SMA of the last `period` closed bars (fast or slow period); for reasons and
        inspection. Every event's reason asks for both, so they come from the running
        sums (exact: Decimal sums of prices stay far inside the context's 28 digits)."""
        if self._filled < period:
            return None
        if period == self._fast:
            return self._fast_sum / self._fast_d
        if period == self._slow:
            return self._slow_sum / self._slow_d
        return sum((self._buf[self._i - k] for k in range(1, period + 1)), ZERO) / period

    def _load_rsi(self, state: dict[str, Any]) -> None:
        period = self.params["rsi_period"]
        self._rsi_period = period
        self._n, self._n1 = float(period), float(period - 1)
        oversold, overbought = self.params["rsi_oversold"], self.params["rsi_overbought"]
        # RSI = 100·G/(G+L) for average gain G and loss L, so RSI < x ⟺ G·(100-x) < L·x.
        # The averages are floats: Wilder's division makes every average a full-precision
        # number, and Decimal arithmetic on those costs ~5x float; an oscillator compared
        # with a threshold needs no exact decimal arithmetic (prices and sizes stay Decimal).
        self._low_g, self._low_l = float(100 - oversold), float(oversold)
        self._high_g, self._high_l = float(100 - overbought), float(overbought)
        if state.get("period") == period:
            self._prev = dec(state["prev"])
            #: Changes seen: counts up to rsi_period while seeding.
            self._count: int = state["count"]
            self._ag, self._al = float(state["avg_gain"]), float(state["avg_loss"])
            self._zone: int = state["zone"]
        else:
            self._prev, self._count, self._ag, self._al, self._zone = None, 0, 0.0, 0.0, 0
        self._update = self._update_rsi if self._count == period else self._seed_rsi

    def _seed_rsi(self, close: Decimal) -> int:
        """The first averages are plain means of the first rsi_period changes (held as
        sums until then)."""
        previous = self._prev
        self._prev = close
        if previous is None:
            return 0
        change = float(close - previous)
        if change > 0:
            self._ag += change
        else:
            self._al -= change
        self._count += 1
        if self._count < self._rsi_period:
            return 0
        self._ag /= self._n
        self._al /= self._n
        self._update = self._update_rsi
        return self._rsi_zone_change()

    def _update_rsi(self, close: Decimal) -> int:
        # The change is exact in Decimal; one rounding to float from there.
        change = float(close - self._prev)
        self._prev = close
        n, n1 = self._n, self._n1
        # Wilder: avg = (avg * (n - 1) + this bar's gain or loss) / n.
        if change > 0:
            gain = self._ag = (self._ag * n1 + change) / n
            loss = self._al = self._al * n1 / n
        else:
            gain = self._ag = self._ag * n1 / n
            loss = self._al = (self._al * n1 - change) / n
        if gain * self._low_g < loss * self._low_l:
            zone = UP
        elif gain * self._high_g > loss * self._high_l:
            zone = DOWN
        else:
            zone = 0
        if zone == self._zone:
            return 0
        self._zone = zone
        return zone

    def _rsi_zone_change(self) -> int:
        gain, loss = self._ag, self._al
        if gain * self._low_g < loss * self._low_l:
            zone = UP
        elif gain * self._high_g > loss * self._high_l:
            zone = DOWN
        else:
            zone = 0
        if zone == self._zone:
            return 0
        self._zone = zone
        return zone

    def rsi(self) -> float | None:
        """Current RSI (None before rsi_period changes were seen, or on a flat series)."""
        if self._count < self._rsi_period:
            return None
        total = self._ag + self._al
        return 100 * self._ag / total if total else None

    # --- events and position ----------------------------------------------------------------
    def _on_event(
        self, event: int, snapshot: MarketSnapshot, signal: ExternalSignal | None
    ) -> list[OrderIntent] | tuple[OrderIntent, ...]:
        raise NotImplementedError

    def _event_target(self, event: int, signal: ExternalSignal | None) -> tuple[Decimal, str]:
        """The position the event asks for, and why."""
        if event == UP:
            target = self._entry_size(UP, signal)
        elif self._allow_short:
            target = -self._entry_size(DOWN, signal)
        else:
            # Going flat reduces risk: never scaled by an outside opinion.
            target = ZERO
        return target, self._event_reason(event, signal)

    def _entry_size(self, direction: int, signal: ExternalSignal | None) -> Decimal:
        """`quantity`, or with size_by_confidence and an outside view: * confidence when
        the view agrees with the entry, nothing when it disagrees (no view: unscaled)."""
        size = self.quantity
        if not self._size_by_confidence or signal is None or signal.direction == 0:
            return size
        if signal.direction != direction:
            return ZERO
        size = size * signal.confidence
        return self.rules.round_quantity(size) if self.rules is not None else size

    def _event_reason(self, event: int, signal: ExternalSignal | None) -> str:
        params = self.params
        if params["signal"] == "ma_cross":
            fast, slow = self.sma(self._fast), self.sma(self._slow)
            word, sign = ("up", ">") if event == UP else ("down", "<")
            reason = (
                f"MA {self._fast}/{self._slow} cross {word} "
                f"(SMA {self._fast} {_short(fast)} {sign} SMA {self._slow} {_short(slow)})"
            )
        else:
            rsi = self.rsi()
            level, sign = (
                (params["rsi_oversold"], "<") if event == UP else (params["rsi_overbought"], ">")
            )
            reason = f"RSI {self._rsi_period} {_short(rsi)} {sign} {level}"
        if self._size_by_confidence and signal is not None and signal.direction != 0:
            reason += f", outside view {signal.direction:+d} at {signal.confidence}"
        return reason

    def _needed(self, target: Decimal) -> Decimal:
        """Signed quantity to order now towards `target`, never past it even if every
        live order in that direction fills and none in the other does."""
        position = self.position
        if target > position:
            live = sum((q - f for sign, q, f in self.working.values() if sign > 0), ZERO)
            need = target - position - live
            return need if need > 0 else ZERO
        if target < position:
            live = sum((q - f for sign, q, f in self.working.values() if sign < 0), ZERO)
            need = position - live - target
            return -need if need > 0 else ZERO
        return ZERO

    @property
    def exposure(self) -> Decimal:
        """Position plus what live orders may still fill, signed."""
        exposure = self.position
        for sign, quantity, filled in self.working.values():
            exposure += (quantity - filled) if sign > 0 else (filled - quantity)
        return exposure

    def _track(self, key: str, side: str, quantity: Decimal) -> None:
        self.working[key] = [1 if side == BUY else -1, quantity, ZERO]

    def on_order_update(self, update: OrderUpdate) -> None:
        order = self.working.get(update.key)
        if order is None:
            if update.key.startswith(MANUAL_KEY_PREFIX):
                self._on_manual_update(update)
            return
        filled = update.filled_quantity
        if filled > order[2]:
            self.position += (filled - order[2]) if order[0] > 0 else (order[2] - filled)
            order[2] = filled
        if update.status in TERMINAL_STATUSES:
            del self.working[update.key]

    def _on_manual_update(self, update: OrderUpdate) -> None:
        sign = 1 if update.side == BUY else -1
        seen = self.manual.setdefault(update.key, [sign, ZERO])
        filled = update.filled_quantity
        if filled > seen[1]:
            self.position += (filled - seen[1]) * sign
            self.manual_total += (filled - seen[1]) * sign
            seen[1] = filled
        if update.status in TERMINAL_STATUSES:
            del self.manual[update.key]


#: Intent keys of orders a trader placed against a strategy's book.
MANUAL_KEY_PREFIX = "manual-"


def _close(snapshot: MarketSnapshot) -> Decimal:
    """The mid as bars use it (multiplying by 0.5 is cheaper than dividing by 2)."""
    bid, ask = snapshot.bid, snapshot.ask
    return bid if bid == ask else (bid + ask) * _HALF


def _short(value: Decimal | float | None) -> str:
    return "n/a" if value is None else f"{value:.6g}" if abs(value) < 1 else f"{value:.2f}"


@register
class Technical(SignalStrategy):
    """Params: signal (ma_cross|rsi), quantity, bar_seconds, fast_period, slow_period,
    rsi_period, rsi_oversold, rsi_overbought, allow_short, size_by_confidence (see
    params.TechnicalParams). Each event sends one MARKET order for what its target
    needs (keys "order-1", "order-2", ...), in one-way mode and never reduce-only: several
    strategies may share the symbol's net position, so this strategy's exit need not
    reduce it.
    """

    kind = "technical"

    def _on_event(
        self, event: int, snapshot: MarketSnapshot, signal: ExternalSignal | None
    ) -> list[OrderIntent] | tuple[OrderIntent, ...]:
        target, reason = self._event_target(event, signal)
        self.target = target
        delta = self._needed(target)
        if delta == 0:
            return NO_INTENTS
        side, quantity = (BUY, delta) if delta > 0 else (SELL, -delta)
        self.sent += 1
        key = f"order-{self.sent}"
        self._track(key, side, quantity)
        return [
            OrderIntent(
                key=key,
                symbol=self.symbol,
                side=side,
                quantity=quantity,
                order_type=MARKET,
                reason=f"{reason}: target {target}",
            )
        ]
