"""Technical indicators over float64 arrays, fast enough for a million bars.

Every function reproduces the `ta` library's definition (ta 0.11, the reference the
tests compare against bar by bar), but on numpy arrays through pandas' compiled
rolling/ewm kernels. `ta` itself is kept as the reference rather than the hot path
because some of its indicators are Python loops: its ATR alone takes about 3.5 s per
million bars; Wilder smoothing is an exponential average with alpha = 1/window seeded
with the simple mean of the first window, which pandas computes in C.

One deliberate difference: ta fills ATR's warm-up bars with 0; here they are NaN, like
every other indicator's warm-up, so no consumer mistakes "not yet known" for "no range".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from rest_framework import serializers

from xquant.errors import ValidationError

Array = np.ndarray


def _s(values: Array) -> pd.Series:
    return pd.Series(values, copy=False)


def sma(close: Array, window: int) -> Array:
    return _s(close).rolling(window, min_periods=window).mean().to_numpy()


def ema(close: Array, window: int) -> Array:
    return _s(close).ewm(span=window, min_periods=window, adjust=False).mean().to_numpy()


def rsi(close: Array, window: int = 14) -> Array:
    diff = np.empty_like(close)
    diff[0] = np.nan
    np.subtract(close[1:], close[:-1], out=diff[1:])
    # As ta: the first (undefined) change counts as zero in both averages.
    up = np.where(diff > 0, diff, 0.0)
    down = np.where(diff < 0, -diff, 0.0)
    alpha = 1.0 / window
    emaup = _s(up).ewm(alpha=alpha, min_periods=window, adjust=False).mean().to_numpy()
    emadn = _s(down).ewm(alpha=alpha, min_periods=window, adjust=False).mean().to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 100.0 - 100.0 / (1.0 + emaup / emadn)
    out[emadn == 0] = 100.0
    return out


def macd(
    close: Array, fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[Array, Array, Array]:
    """MACD line, signal line, histogram (ta's macd, macd_signal, macd_diff)."""
    line = ema(close, fast) - ema(close, slow)
    sig = ema(line, signal)
    return line, sig, line - sig


def bollinger(
    close: Array, window: int = 20, window_dev: float = 2.0
) -> tuple[Array, Array, Array, Array, Array]:
    """Upper, middle, lower band, width (percent of the middle) and %B."""
    roll = _s(close).rolling(window, min_periods=window)
    mid = roll.mean().to_numpy()
    std = roll.std(ddof=0).to_numpy()
    upper = mid + window_dev * std
    lower = mid - window_dev * std
    with np.errstate(divide="ignore", invalid="ignore"):
        width = (upper - lower) / mid * 100.0
        percent = (close - lower) / (upper - lower)
    return upper, mid, lower, width, percent


def stoch_rsi(
    close: Array,
    window: int = 14,
    smooth1: int = 3,
    smooth2: int = 3,
    *,
    rsi_values: Array | None = None,
) -> tuple[Array, Array, Array]:
    """StochRSI, its %K (smooth1-bar mean) and %D (smooth2-bar mean of %K), in 0..1."""
    r = rsi(close, window) if rsi_values is None else rsi_values
    rs = _s(r).rolling(window)
    lowest = rs.min().to_numpy()
    highest = rs.max().to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        stoch = (r - lowest) / (highest - lowest)
    k = _s(stoch).rolling(smooth1).mean().to_numpy()
    d = _s(k).rolling(smooth2).mean().to_numpy()
    return stoch, k, d


def true_range(high: Array, low: Array, close: Array) -> Array:
    tr = high - low
    prev = close[:-1]
    np.maximum(tr[1:], np.abs(high[1:] - prev), out=tr[1:])
    np.maximum(tr[1:], np.abs(low[1:] - prev), out=tr[1:])
    return tr


def atr(high: Array, low: Array, close: Array, window: int = 14) -> Array:
    """Wilder's ATR: the mean of the first `window` true ranges, then
    atr[i] = (atr[i-1] * (window-1) + tr[i]) / window — ta's loop, as an ewm."""
    tr = true_range(high, low, close)
    out = np.full(len(tr), np.nan)
    if len(tr) < window:
        return out
    seeded = tr.copy()
    seeded[: window - 1] = np.nan
    seeded[window - 1] = tr[:window].mean()
    out[window - 1 :] = (
        _s(seeded[window - 1 :]).ewm(alpha=1.0 / window, adjust=False).mean().to_numpy()
    )
    return out


def vwap(high: Array, low: Array, close: Array, volume: Array, window: int = 14) -> Array:
    """Rolling volume-weighted typical price over `window` bars (NaN where no volume)."""
    typical = (high + low + close) / 3.0
    pv = _s(typical * volume).rolling(window, min_periods=window).sum().to_numpy()
    vol = _s(volume).rolling(window, min_periods=window).sum().to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        return pv / vol


def obv(close: Array, volume: Array) -> Array:
    signed = volume.copy()
    signed[1:][close[1:] < close[:-1]] *= -1.0
    return np.cumsum(signed)


def roc(close: Array, window: int = 12) -> Array:
    out = np.full(len(close), np.nan)
    if len(close) > window:
        prev = close[:-window]
        out[window:] = (close[window:] - prev) / prev * 100.0
    return out


def williams_r(high: Array, low: Array, close: Array, window: int = 14) -> Array:
    hh = _s(high).rolling(window, min_periods=window).max().to_numpy()
    ll = _s(low).rolling(window, min_periods=window).min().to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        return -100.0 * (hh - close) / (hh - ll)


class IndicatorParams(serializers.Serializer):
    """Windows of every indicator; the API, signals and predictions validate through it."""

    rsi_window = serializers.IntegerField(min_value=2, max_value=500, default=14)
    macd_fast = serializers.IntegerField(min_value=2, max_value=500, default=12)
    macd_slow = serializers.IntegerField(min_value=3, max_value=1_000, default=26)
    macd_signal = serializers.IntegerField(min_value=2, max_value=500, default=9)
    bb_window = serializers.IntegerField(min_value=2, max_value=1_000, default=20)
    bb_dev = serializers.FloatField(min_value=0.1, max_value=10.0, default=2.0)
    stoch_window = serializers.IntegerField(min_value=2, max_value=500, default=14)
    stoch_smooth1 = serializers.IntegerField(min_value=1, max_value=100, default=3)
    stoch_smooth2 = serializers.IntegerField(min_value=1, max_value=100, default=3)
    atr_window = serializers.IntegerField(min_value=2, max_value=500, default=14)
    ema_fast = serializers.IntegerField(min_value=2, max_value=1_000, default=12)
    ema_slow = serializers.IntegerField(min_value=2, max_value=1_000, default=26)
    sma_fast = serializers.IntegerField(min_value=2, max_value=1_000, default=20)
    sma_slow = serializers.IntegerField(min_value=2, max_value=1_000, default=50)
    vwap_window = serializers.IntegerField(min_value=1, max_value=1_000, default=14)
    roc_window = serializers.IntegerField(min_value=1, max_value=1_000, default=12)
    williams_window = serializers.IntegerField(min_value=2, max_value=1_000, default=14)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["macd_fast"] >= attrs["macd_slow"]:
            raise serializers.ValidationError(
                {
                    "macd_fast": [
                        f"macd_fast ({attrs['macd_fast']}) must be smaller than macd_slow "
                        f"({attrs['macd_slow']})."
                    ]
                }
            )
        return attrs


#: Output columns, in the order the API lists them.
INDICATOR_COLUMNS = (
    "rsi",
    "macd",
    "macd_signal",
    "macd_diff",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "bb_width",
    "bb_percent",
    "stochrsi",
    "stochrsi_k",
    "stochrsi_d",
    "atr",
    "ema_fast",
    "ema_slow",
    "sma_fast",
    "sma_slow",
    "vwap",
    "obv",
    "roc",
    "williams_r",
)


def _flatten(detail: Any) -> list[str]:
    if isinstance(detail, dict):
        return [m for v in detail.values() for m in _flatten(v)]
    if isinstance(detail, list):
        return [m for v in detail for m in _flatten(v)]
    return [str(detail)]


def validate_serializer(
    serializer_class: type[serializers.Serializer], data: Any, what: str
) -> dict[str, Any]:
    """Validated data, or xquant ValidationError naming each bad field and what is allowed."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValidationError(f"{what} must be a JSON object.")
    allowed = set(serializer_class().fields)
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError(
            f"Unknown {what}: {', '.join(unknown)}. Allowed: {', '.join(sorted(allowed))}.",
            extra={"fields": {name: ["Unknown parameter."] for name in unknown}},
        )
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        fields = {name: _flatten(msgs) for name, msgs in serializer.errors.items()}
        summary = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in fields.items())
        raise ValidationError(f"Invalid {what}: {summary}", extra={"fields": fields})
    return dict(serializer.validated_data)


def indicator_params(data: dict[str, Any] | None = None) -> dict[str, Any]:
    return validate_serializer(IndicatorParams, data or {}, "indicator parameters")


@dataclass(frozen=True, slots=True)
class OHLCV:
    open: Array
    high: Array
    low: Array
    close: Array
    volume: Array

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> OHLCV:
        return cls(
            *(
                np.ascontiguousarray(frame[c].to_numpy(dtype=np.float64))
                for c in ("open", "high", "low", "close", "volume")
            )
        )


def indicators_compute(bars: OHLCV, params: dict[str, Any] | None = None) -> dict[str, Array]:
    """Every indicator of INDICATOR_COLUMNS for the bars, with validated `params`."""
    p = indicator_params(params) if params is None or "rsi_window" not in params else params
    h, lo, c, v = bars.high, bars.low, bars.close, bars.volume
    out: dict[str, Array] = {}
    # Averages shared by several indicators (EMA 12/26 of the MACD, SMA 20 of the
    # Bollinger middle band with the default windows) are computed once.
    emas: dict[int, Array] = {}
    smas: dict[int, Array] = {}

    def ema_of(window: int) -> Array:
        if window not in emas:
            emas[window] = ema(c, window)
        return emas[window]

    out["rsi"] = r = rsi(c, p["rsi_window"])
    line = ema_of(p["macd_fast"]) - ema_of(p["macd_slow"])
    sig = ema(line, p["macd_signal"])
    out["macd"], out["macd_signal"], out["macd_diff"] = line, sig, line - sig
    (
        out["bb_upper"],
        out["bb_middle"],
        out["bb_lower"],
        out["bb_width"],
        out["bb_percent"],
    ) = bollinger(c, p["bb_window"], p["bb_dev"])
    smas[p["bb_window"]] = out["bb_middle"]
    # StochRSI reuses the RSI when both use the same window.
    out["stochrsi"], out["stochrsi_k"], out["stochrsi_d"] = stoch_rsi(
        c,
        p["stoch_window"],
        p["stoch_smooth1"],
        p["stoch_smooth2"],
        rsi_values=r if p["stoch_window"] == p["rsi_window"] else None,
    )
    out["atr"] = atr(h, lo, c, p["atr_window"])
    out["ema_fast"] = ema_of(p["ema_fast"])
    out["ema_slow"] = ema_of(p["ema_slow"])
    out["sma_fast"] = smas[p["sma_fast"]] if p["sma_fast"] in smas else sma(c, p["sma_fast"])
    out["sma_slow"] = smas[p["sma_slow"]] if p["sma_slow"] in smas else sma(c, p["sma_slow"])
    out["vwap"] = vwap(h, lo, c, v, p["vwap_window"])
    out["obv"] = obv(c, v)
    out["roc"] = roc(c, p["roc_window"])
    out["williams_r"] = williams_r(h, lo, c, p["williams_window"])
    return out
