"""The four signal strategies: trend following, mean reversion, MACD + Stochastic RSI,
Bollinger bands."""

from __future__ import annotations

import numpy as np
from rest_framework import serializers

from prediction import indicators as ind
from prediction.indicators import OHLCV
from prediction.signals.base import (
    PeriodPairMixin,
    SignalResult,
    SignalStrategy,
    combine_sides,
)

SIDE_WORD = {1: "long", -1: "short", 0: "flat"}


def _f(value: float, digits: int = 2) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:,.{digits}f}"


def _no_decision(result: SignalResult, i: int) -> list[str] | None:
    if i < result.warmup:
        return [f"Warming up: the indicators need {result.warmup} bars, this is bar {i + 1}."]
    return None


class TrendFollowingParams(PeriodPairMixin, serializers.Serializer):
    ma_type = serializers.ChoiceField(choices=["sma", "ema"], default="ema")
    fast = serializers.IntegerField(min_value=1, max_value=1_000, default=20)
    slow = serializers.IntegerField(min_value=2, max_value=2_000, default=50)
    allow_short = serializers.BooleanField(default=True)
    rule = serializers.ChoiceField(
        choices=["cross", "state"],
        default="cross",
        help_text=(
            "cross: act only where the averages cross, the live Technical ma_cross rule "
            "(the first position waits for the first cross); state: hold the side of the "
            "fast average from the first bar where both exist."
        ),
    )


def cross_position(side: np.ndarray, allow_short: bool) -> np.ndarray:
    """The live Technical ma_cross rule over a side series (+1 fast above, -1 below, 0
    equal, NaN undefined): an event where the side becomes +1 or -1 having been
    something else on the previous defined bar (the first defined bar only sets the
    side); UP goes long, DOWN goes short or flat; between events the position holds."""
    n = len(side)
    if n < 2:
        return np.zeros(n, dtype=np.int8)
    prev, cur = side[:-1], side[1:]
    # |cur| == 1 is False for 0 and NaN; NaN != x is True, so a NaN before is excluded
    # explicitly (prev == prev).
    fires = np.abs(cur) == 1
    fires &= cur != prev
    fires &= prev == prev
    events = np.flatnonzero(fires) + 1
    target = side[events].astype(np.int8)
    if not allow_short:
        np.maximum(target, 0, out=target)  # DOWN means flat
    # Hold each event's target until the next event; nothing before the first.
    out = np.zeros(n, dtype=np.int8)
    if len(events):
        held = np.diff(events, append=n)
        out[events[0] :] = np.repeat(target, held)
    return out


class TrendFollowing(SignalStrategy):
    name = "trend_following"
    title = "Trend following (moving-average cross)"
    description = (
        "Goes long where the fast moving average crosses above the slow one and short (or "
        "flat when shorting is off) where it crosses below, as the live Technical "
        "strategy does; rule 'state' instead holds the fast average's side from the "
        "first bar both exist."
    )
    params_serializer = TrendFollowingParams

    def compute(self, bars: OHLCV) -> SignalResult:
        p = self.params
        average = ind.sma if p["ma_type"] == "sma" else ind.ema
        fast = average(bars.close, p["fast"])
        slow = average(bars.close, p["slow"])
        indicators = {"ma_fast": fast, "ma_slow": slow}
        if p["ma_type"] == "sma":
            # Exact on near-ties, as the live Technical class compares its averages.
            side = ind.sma_side(bars.close, p["fast"], p["slow"], fast, slow)
        else:
            side = np.sign(fast - slow)
        # An SMA is exact after its window; an EMA once it has forgotten its seed.
        warmup = p["slow"] if p["ma_type"] == "sma" else ind.ema_warmup(p["slow"])
        if p["rule"] == "cross":
            pos = cross_position(side, p["allow_short"])
            return SignalResult(pos, indicators, warmup=warmup)
        # NaN comparisons are False: no position before both averages exist.
        up = side > 0
        down = side < 0
        pos = up.astype(np.int8)
        if p["allow_short"]:
            pos -= down.astype(np.int8)
        return SignalResult(pos, indicators, warmup=warmup)

    def reasons(self, bars: OHLCV, result: SignalResult, i: int) -> list[str]:
        if (w := _no_decision(result, i)) is not None:
            return w
        p, fast, slow = (
            self.params,
            result.indicators["ma_fast"][i],
            result.indicators["ma_slow"][i],
        )
        kind = p["ma_type"].upper()
        rel = "above" if fast > slow else "below" if fast < slow else "equal to"
        out = [f"{kind}({p['fast']}) {_f(fast)} is {rel} {kind}({p['slow']}) {_f(slow)}."]
        if i > 0:
            pf, ps = result.indicators["ma_fast"][i - 1], result.indicators["ma_slow"][i - 1]
            if pf <= ps and fast > slow:
                out.append("The fast average crossed above the slow one on this bar.")
            elif pf >= ps and fast < slow:
                out.append("The fast average crossed below the slow one on this bar.")
        if fast < slow and not p["allow_short"]:
            out.append("Shorting is off, so the strategy stays flat.")
        if p["rule"] == "cross":
            side = SIDE_WORD[int(result.position[i])]
            out.append(f"Rule cross: the position ({side}) is the last cross's, if any.")
        return out


class MeanReversionParams(serializers.Serializer):
    rsi_window = serializers.IntegerField(min_value=2, max_value=500, default=14)
    oversold = serializers.FloatField(min_value=0, max_value=100, default=30)
    overbought = serializers.FloatField(min_value=0, max_value=100, default=70)
    exit_level = serializers.FloatField(
        min_value=0, max_value=100, default=50, help_text="RSI level that closes a position."
    )
    allow_short = serializers.BooleanField(default=True)

    def validate(self, attrs):
        if not attrs["oversold"] < attrs["exit_level"] < attrs["overbought"]:
            raise serializers.ValidationError(
                {
                    "exit_level": [
                        f"Need oversold < exit_level < overbought (got {attrs['oversold']}, "
                        f"{attrs['exit_level']}, {attrs['overbought']})."
                    ]
                }
            )
        return attrs


class MeanReversion(SignalStrategy):
    name = "mean_reversion"
    title = "Mean reversion (RSI)"
    description = (
        "Long when RSI falls below the oversold level, short when it rises above the "
        "overbought level; the position closes when RSI crosses back to the exit level."
    )
    params_serializer = MeanReversionParams

    def compute(self, bars: OHLCV) -> SignalResult:
        p = self.params
        r = ind.rsi(bars.close, p["rsi_window"])
        pos = combine_sides(
            r < p["oversold"],
            r >= p["exit_level"],
            r > p["overbought"] if p["allow_short"] else None,
            r <= p["exit_level"] if p["allow_short"] else None,
        )
        return SignalResult(pos, {"rsi": r}, warmup=ind.wilder_warmup(p["rsi_window"]))

    def reasons(self, bars: OHLCV, result: SignalResult, i: int) -> list[str]:
        if (w := _no_decision(result, i)) is not None:
            return w
        p, r, pos = self.params, result.indicators["rsi"][i], int(result.position[i])
        out = [f"RSI({p['rsi_window']}) is {_f(r)}."]
        if r < p["oversold"]:
            out.append(f"RSI is below the oversold level {p['oversold']:g}: expect a bounce.")
        elif r > p["overbought"]:
            out.append(f"RSI is above the overbought level {p['overbought']:g}: expect a pullback.")
        if pos == 1 and r >= p["oversold"]:
            out.append(f"Holding the long until RSI reaches {p['exit_level']:g}.")
        elif pos == -1 and r <= p["overbought"]:
            out.append(f"Holding the short until RSI falls to {p['exit_level']:g}.")
        elif pos == 0:
            out.append("No extreme reading: flat.")
        return out


class MacdStochRsiParams(serializers.Serializer):
    macd_fast = serializers.IntegerField(min_value=2, max_value=500, default=12)
    macd_slow = serializers.IntegerField(min_value=3, max_value=1_000, default=26)
    macd_signal = serializers.IntegerField(min_value=2, max_value=500, default=9)
    stoch_window = serializers.IntegerField(min_value=2, max_value=500, default=14)
    stoch_smooth1 = serializers.IntegerField(min_value=1, max_value=100, default=3)
    stoch_smooth2 = serializers.IntegerField(min_value=1, max_value=100, default=3)
    stoch_oversold = serializers.FloatField(min_value=0, max_value=1, default=0.2)
    stoch_overbought = serializers.FloatField(min_value=0, max_value=1, default=0.8)
    allow_short = serializers.BooleanField(default=True)

    def validate(self, attrs):
        if attrs["macd_fast"] >= attrs["macd_slow"]:
            raise serializers.ValidationError(
                {
                    "macd_fast": [
                        f"macd_fast ({attrs['macd_fast']}) must be smaller than macd_slow "
                        f"({attrs['macd_slow']})."
                    ]
                }
            )
        if attrs["stoch_oversold"] >= attrs["stoch_overbought"]:
            raise serializers.ValidationError(
                {
                    "stoch_oversold": [
                        f"stoch_oversold ({attrs['stoch_oversold']}) must be below "
                        f"stoch_overbought ({attrs['stoch_overbought']})."
                    ]
                }
            )
        return attrs


class MacdStochRsi(SignalStrategy):
    name = "macd_stochrsi"
    title = "MACD + Stochastic RSI"
    description = (
        "Enter long when the MACD is above its signal line and Stochastic RSI %K crosses "
        "above %D from the oversold zone; short in mirror image. Exit when the MACD "
        "crosses its signal line against the position."
    )
    params_serializer = MacdStochRsiParams

    def compute(self, bars: OHLCV) -> SignalResult:
        p = self.params
        line, sig, hist = ind.macd(bars.close, p["macd_fast"], p["macd_slow"], p["macd_signal"])
        _, k, d = ind.stoch_rsi(
            bars.close, p["stoch_window"], p["stoch_smooth1"], p["stoch_smooth2"]
        )
        k_prev = np.r_[np.nan, k[:-1]]
        d_prev = np.r_[np.nan, d[:-1]]
        k_up = (k > d) & (k_prev <= d_prev)
        k_down = (k < d) & (k_prev >= d_prev)
        long_entry = (hist > 0) & k_up & (k_prev < p["stoch_oversold"])
        short_entry = (hist < 0) & k_down & (k_prev > p["stoch_overbought"])
        pos = combine_sides(
            long_entry,
            hist < 0,
            short_entry if p["allow_short"] else None,
            hist > 0 if p["allow_short"] else None,
        )
        # The MACD's values are small beside the price its EMAs' seeds differ by, so they
        # must forget them more thoroughly; the stochastic RSI settles with its RSI.
        precise = 1e-5
        warmup = max(
            ind.ema_warmup(p["macd_slow"], precise) + ind.ema_warmup(p["macd_signal"], precise),
            ind.wilder_warmup(p["stoch_window"])
            + p["stoch_window"]
            + p["stoch_smooth1"]
            + p["stoch_smooth2"],
        )
        return SignalResult(
            pos,
            {"macd": line, "macd_signal": sig, "macd_diff": hist, "stochrsi_k": k, "stochrsi_d": d},
            warmup,
        )

    def reasons(self, bars: OHLCV, result: SignalResult, i: int) -> list[str]:
        if (w := _no_decision(result, i)) is not None:
            return w
        x = {k: v[i] for k, v in result.indicators.items()}
        out = [
            f"MACD {_f(x['macd'])} is {'above' if x['macd_diff'] > 0 else 'below'} its signal "
            f"line {_f(x['macd_signal'])} (histogram {_f(x['macd_diff'])}).",
            f"Stochastic RSI %K {_f(x['stochrsi_k'], 3)}, %D {_f(x['stochrsi_d'], 3)}.",
        ]
        pos, prev = int(result.position[i]), int(result.position[i - 1]) if i else 0
        if pos != prev:
            out.append(
                f"{SIDE_WORD[pos].capitalize()} on this bar"
                + (
                    " (%K crossed %D from an extreme zone with the MACD in agreement)."
                    if pos
                    else " (the MACD crossed against the position)."
                )
            )
        return out


class BollingerParams(serializers.Serializer):
    window = serializers.IntegerField(min_value=2, max_value=1_000, default=20)
    window_dev = serializers.FloatField(min_value=0.1, max_value=10, default=2.0)
    mode = serializers.ChoiceField(
        choices=["reversion", "breakout"],
        default="reversion",
        help_text="reversion: fade band touches; breakout: follow closes outside the bands.",
    )
    allow_short = serializers.BooleanField(default=True)


class Bollinger(SignalStrategy):
    name = "bollinger"
    title = "Bollinger bands"
    description = (
        "reversion: long on a close below the lower band, short on a close above the upper "
        "band, out at the middle band. breakout: long on a close above the upper band, "
        "short below the lower band, out at the middle band."
    )
    params_serializer = BollingerParams

    def compute(self, bars: OHLCV) -> SignalResult:
        p = self.params
        upper, mid, lower, _, pct = ind.bollinger(bars.close, p["window"], p["window_dev"])
        c = bars.close
        if p["mode"] == "reversion":
            long_entry, long_exit = c < lower, c >= mid
            short_entry, short_exit = c > upper, c <= mid
        else:
            long_entry, long_exit = c > upper, c <= mid
            short_entry, short_exit = c < lower, c >= mid
        pos = combine_sides(
            long_entry,
            long_exit,
            short_entry if p["allow_short"] else None,
            short_exit if p["allow_short"] else None,
        )
        return SignalResult(
            pos,
            {"bb_upper": upper, "bb_middle": mid, "bb_lower": lower, "bb_percent": pct},
            p["window"],
        )

    def reasons(self, bars: OHLCV, result: SignalResult, i: int) -> list[str]:
        if (w := _no_decision(result, i)) is not None:
            return w
        x = {k: v[i] for k, v in result.indicators.items()}
        c = bars.close[i]
        where = (
            "above the upper band"
            if c > x["bb_upper"]
            else "below the lower band"
            if c < x["bb_lower"]
            else "inside the bands"
        )
        return [
            f"Close {_f(c)} is {where} (lower {_f(x['bb_lower'])}, middle {_f(x['bb_middle'])}, "
            f"upper {_f(x['bb_upper'])}; %B {_f(x['bb_percent'], 3)}).",
            f"Mode {self.params['mode']}: target {SIDE_WORD[int(result.position[i])]}.",
        ]
