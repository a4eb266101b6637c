"""xQuant's research engines against the established peers, in wall-clock, one command.

`make bench-research` installs the peers (vectorbt, backtesting.py, TA-Lib) in their own
throwaway virtualenv and runs this command with its interpreter: the same seeded
synthetic one-minute bars go to both sides through a temporary file, each side times the
same three jobs, and the last three lines compare them.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from django.conf import settings as django_settings
from django.core.management.base import BaseCommand, CommandError

from prediction.backtest.config import backtest_settings
from prediction.backtest.synthetic import synthetic_minute_bars
from prediction.backtest.vectorised import run_vectorised
from prediction.indicators import indicator_params, indicators_compute
from prediction.management.commands.bench_backtest import live_ma_cross_run
from prediction.signals import signal_strategy_build

PEERS_SCRIPT = Path(django_settings.BASE_DIR) / "scripts" / "bench_peers.py"
FEE, SLIPPAGE_BPS = 0.0004, 1.0


def wall(fn: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """(best wall-clock seconds of `repeat` runs, the least disturbed by neighbours;
    process CPU seconds of that run; its result)."""
    best, cpu, out = float("inf"), float("inf"), None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        seconds = time.perf_counter() - t0
        if seconds < best:
            best, cpu = seconds, time.process_time() - c0
    return best, cpu, out


class Command(BaseCommand):
    help = (
        "Wall-clock of the vectorised backtest (signal + fills + all metrics), the "
        "event-driven backtest of the live Technical class and the indicator set, next to "
        "vectorbt, backtesting.py and TA-Lib run by --peers-python on the same bars."
    )

    def add_arguments(self, parser):
        parser.add_argument("--peers-python", required=True, help="interpreter with the peers")
        parser.add_argument("--bars", type=int, default=1_000_000)
        parser.add_argument("--repeat", type=int, default=3, help="best of N (backtesting.py: 1)")
        parser.add_argument("--seed", type=int, default=42)

    def handle(self, *args, peers_python, bars, repeat, seed, **options):
        out = self.stdout.write
        data, times = synthetic_minute_bars(bars, seed=seed)
        settings = backtest_settings(
            # One unit per trade on every side: compounding all-in over a million bars of
            # fees would take the equity to nothing and the peers' counts apart.
            {"fee_rate": FEE, "slippage_bps": SLIPPAGE_BPS, "sizing": "fixed", "quantity": 1}
        )
        out(f"{bars:,} synthetic one-minute bars (seed {seed}), wall-clock, best of {repeat}")

        signal = signal_strategy_build(
            "trend_following", {"ma_type": "sma", "fast": 10, "slow": 30, "allow_short": True}
        )

        def vectorised():
            return run_vectorised(
                open_=data.open,
                close=data.close,
                times=times,
                target=signal.compute(data).position,
                settings=settings,
                bar_seconds=60,
            )

        def event_driven():
            return live_ma_cross_run(data, times, settings)

        p = indicator_params({})
        vec_s, vec_cpu, vec = wall(vectorised, repeat)
        out(
            f"  xQuant vectorised SMA 10/30 cross + fills + metrics: {vec_s:.3f} s, "
            f"{vec.metrics['trade_count']:,} closed trades"
        )
        ev_s, ev_cpu, ev = wall(event_driven, repeat)
        out(
            f"  xQuant event-driven live Technical class: {ev_s:.3f} s, "
            f"{ev.metrics['trade_count']:,} closed trades"
        )
        ind_s, ind_cpu, ind = wall(lambda: indicators_compute(data, p), repeat)
        out(f"  xQuant {len(ind)} indicator columns: {ind_s:.3f} s")

        with tempfile.TemporaryDirectory(prefix="bench-research-") as tmp:
            path = Path(tmp) / "bars.npz"
            np.savez(
                path,
                open=data.open,
                high=data.high,
                low=data.low,
                close=data.close,
                volume=data.volume,
                times=times,
                fee=FEE,
                slippage=SLIPPAGE_BPS / 10_000,
                **{f"ind_{k}": v for k, v in ind.items()},
            )
            done = subprocess.run(  # noqa: S603 - the operator's own interpreter
                [peers_python, str(PEERS_SCRIPT), str(path), str(repeat)],
                capture_output=True,
                text=True,
                check=False,
            )
        if done.returncode != 0:
            raise CommandError(f"the peers' benchmark failed: {done.stderr.strip()[-2000:]}")
        peers = json.loads(done.stdout.strip().splitlines()[-1])
        out(
            f"  vectorbt from_signals + stats: {peers['vectorbt_seconds']:.3f} s, "
            f"{peers['vectorbt_trades']:,} trades"
        )
        out(
            f"  backtesting.py Backtest.run (one run): {peers['backtesting_seconds']:.3f} s, "
            f"{peers['backtesting_trades']:,} trades"
        )
        out(
            f"  TA-Lib, the same {len(peers['talib_columns'])} columns: "
            f"{peers['talib_seconds']:.3f} s"
        )
        differences = peers["talib_max_difference"]
        out(
            "  largest relative difference from TA-Lib after warm-up: "
            + ", ".join(f"{k} {v:.1e}" for k, v in sorted(differences.items()))
        )
        # CPU time is less moved by neighbours on a shared machine: a cross-check.
        out(
            f"  the same in process CPU time: vectorised {peers['vectorbt_cpu'] / vec_cpu:.1f}x, "
            f"event-driven {peers['backtesting_cpu'] / ev_cpu:.1f}x, "
            f"indicators {ind_cpu / peers['talib_cpu']:.1f}x"
        )
        out(f"vectorised: {peers['vectorbt_seconds'] / vec_s:.1f}x vectorbt")
        out(f"event-driven: {peers['backtesting_seconds'] / ev_s:.1f}x backtesting.py")
        out(f"indicators: {ind_s / peers['talib_seconds']:.1f}x TA-Lib time")
