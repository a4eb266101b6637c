"""Look-ahead and warm-up checks for signal strategies.

Look-ahead: a decision at bar t may use bars 0..t only. The strategy is computed on the
whole data, then again on the data cut just after bar t, for every bar where its target
position changes (its signals; evenly thinned to `max_signal_bars`) and for
`random_bars` bars drawn at random; any bar whose target differs is flagged: the
decision there changed when later bars were removed, so it used them.

Warm-up: an indicator column must not depend on how much history precedes a bar once
the strategy's declared warm-up has passed. The first `cut` bars are removed (at a few
cuts), the strategy computed again, and every indicator value from the declared warm-up
on (counted from the cut) compared with the full computation at the same bar; values
that differ by more than `tolerance` (relative to the column's typical size) are
flagged with the warm-up it actually needs (the bar from which the two agree for good)
and the largest difference. Exponential averages (EMA, Wilder's RSI) never forget their
start completely; at the default tolerance of 1e-3 they need several times their span
(measured on the bundled candles: EMA(50) 93 bars, RSI(14) 91, MACD(12, 26, 9) about
130), more than the bundled EMA strategies declare, so the check flags them: a warning
about the first bars after a warm-up, not a look-ahead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from prediction.indicators import OHLCV
from prediction.signals import SignalStrategy, signal_strategy_build


def _cut(bars: OHLCV, start: int, stop: int) -> OHLCV:
    return OHLCV(
        *(
            np.ascontiguousarray(getattr(bars, name)[start:stop])
            for name in ("open", "high", "low", "close", "volume")
        )
    )


@dataclass
class CheckReport:
    strategy: str
    params: dict[str, Any]
    bars_checked: list[int] = field(default_factory=list)
    lookahead: list[dict[str, Any]] = field(default_factory=list)
    warmup: list[dict[str, Any]] = field(default_factory=list)

    @property
    def lookahead_passed(self) -> bool:
        return not self.lookahead

    @property
    def warmup_passed(self) -> bool:
        return not self.warmup

    @property
    def passed(self) -> bool:
        return self.lookahead_passed and self.warmup_passed

    def as_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "params": self.params,
            "passed": self.passed,
            "lookahead_passed": self.lookahead_passed,
            "warmup_passed": self.warmup_passed,
            "bars_checked": len(self.bars_checked),
            "lookahead": self.lookahead,
            "warmup": self.warmup,
        }


def lookahead_check(
    strategy: SignalStrategy,
    bars: OHLCV,
    *,
    max_signal_bars: int = 150,
    random_bars: int = 50,
    seed: int = 0,
) -> tuple[list[int], list[dict[str, Any]]]:
    full = strategy.compute(bars).position
    n = len(full)
    changes = np.flatnonzero(np.diff(full.astype(np.int16))) + 1
    if len(changes) > max_signal_bars:
        changes = changes[np.linspace(0, len(changes) - 1, max_signal_bars).astype(int)]
    rng = np.random.default_rng(seed)
    extra = rng.choice(n - 1, size=min(random_bars, n - 1), replace=False) if n > 1 else []
    checked = sorted({int(i) for i in changes} | {int(i) for i in extra})
    flagged = []
    for t in checked:
        cut = strategy.compute(_cut(bars, 0, t + 1)).position
        if int(cut[t]) != int(full[t]):
            flagged.append(
                {
                    "bar": t,
                    "full": int(full[t]),
                    "truncated": int(cut[t]),
                    "message": (
                        f"bar {t}: the target is {int(full[t])} with the later bars and "
                        f"{int(cut[t])} without them; the decision looks ahead."
                    ),
                }
            )
    return checked, flagged


def warmup_check(
    strategy: SignalStrategy,
    bars: OHLCV,
    *,
    cuts: tuple[float, ...] = (0.1, 0.25, 0.5),
    tolerance: float = 1e-3,
) -> list[dict[str, Any]]:
    full = strategy.compute(bars)
    n = len(bars.close)
    flagged: dict[str, dict[str, Any]] = {}
    for share in cuts:
        cut = int(n * share)
        if cut < 1 or n - cut <= full.warmup + 1:
            continue
        later = strategy.compute(_cut(bars, cut, n))
        for name, values in later.indicators.items():
            ref = np.asarray(full.indicators[name][cut:], dtype=float)
            got = np.asarray(values, dtype=float)
            start = later.warmup
            a, b = ref[start:], got[start:]
            both = np.isfinite(a) & np.isfinite(b)
            scale = np.nanmedian(np.abs(a[both])) if both.any() else 0.0
            scale = scale if scale > 0 else 1.0
            diff = np.where(both, np.abs(a - b) / scale, 0.0)
            # A value present in one computation only differs too.
            diff = np.where(np.isfinite(a) != np.isfinite(b), np.inf, diff)
            bad = np.flatnonzero(diff > tolerance)
            if not len(bad):
                continue
            first = int(bad[0]) + start
            # Bars after the cut until the values agree for good: the warm-up it needs.
            needed = int(bad[-1]) + start + 1
            entry = flagged.get(name)
            if entry is None or needed > entry["needed_warmup"]:
                flagged[name] = {
                    "indicator": name,
                    "cut": cut,
                    "declared_warmup": start,
                    "needed_warmup": needed,
                    "first_bar_after_warmup": first,
                    "max_relative_difference": float(np.max(diff[bad])),
                    "message": (
                        f"{name} still depends on the {cut} bars removed before it past the "
                        f"declared warm-up of {start} bars (relative difference up to "
                        f"{float(np.max(diff[bad])):.3g}); it agrees within {tolerance:g} "
                        f"only from bar {needed} on."
                    ),
                }
    return list(flagged.values())


def strategy_check(
    strategy: SignalStrategy | str,
    bars: OHLCV,
    *,
    params: dict[str, Any] | None = None,
    seed: int = 0,
) -> CheckReport:
    """Both checks for a strategy instance, or a bundled strategy by name."""
    if isinstance(strategy, str):
        strategy = signal_strategy_build(strategy, params)
    checked, leaks = lookahead_check(strategy, bars, seed=seed)
    return CheckReport(
        strategy=getattr(strategy, "name", type(strategy).__name__),
        params=dict(getattr(strategy, "params", {})),
        bars_checked=checked,
        lookahead=leaks,
        warmup=warmup_check(strategy, bars),
    )
