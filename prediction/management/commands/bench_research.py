"""xQuant's research engines against the established peers, in wall-clock, one command.

`make bench-research` installs the peers (vectorbt, backtesting.py, TA-Lib) in their own
throwaway virtualenv and runs this command with its interpreter: the same seeded
synthetic one-minute bars go to both sides through a temporary file, the peers' process
runs each of their jobs when asked, alternating with xQuant's (so both sides of a ratio
meet the same neighbours on a shared machine), and the last three lines compare them.
"""

from __future__ import annotations

import ctypes
import json
import os
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


#: glibc's malloc settings for both processes: freed memory stays in the heap for the
#: next round instead of going back to the system. With the defaults, whether a job's
#: 8 MB arrays come back as fresh pages (a page fault for each 4 KB: 12,000 a round for
#: the indicator set, about 30 ms of its 60-100) depended on each process's history: the
#: peers' process reused its heap after vectorbt and backtesting.py, xQuant's faulted
#: every round (1.7x TA-Lib time in the benchmark, 1.3x with both heaps warm).
MALLOC_SETTINGS = {"MALLOC_MMAP_THRESHOLD_": 32 << 20, "MALLOC_TRIM_THRESHOLD_": 1 << 30}
_MALLOPT = {"MALLOC_TRIM_THRESHOLD_": -1, "MALLOC_MMAP_THRESHOLD_": -3}  # glibc's M_* codes


def same_allocator_settings() -> dict[str, str]:
    """Apply MALLOC_SETTINGS to this process (mallopt) and return the environment that
    gives the peers' process the same; empty (and nothing applied) off glibc."""
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except OSError:
        return {}
    for name, value in MALLOC_SETTINGS.items():
        if mallopt(_MALLOPT[name], value) != 1:
            return {}
    return {name: str(value) for name, value in MALLOC_SETTINGS.items()}


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
        parser.add_argument(
            "--repeat", type=int, default=3, help="best of N (the event-driven pair: at most 2)"
        )
        parser.add_argument("--seed", type=int, default=42)

    def handle(self, *args, peers_python, bars, repeat, seed, **options):
        out = self.stdout.write
        data, times = synthetic_minute_bars(bars, seed=seed)
        settings = backtest_settings(
            # One unit per trade on every side: compounding all-in over a million bars of
            # fees would take the equity to nothing and the peers' counts apart.
            {"fee_rate": FEE, "slippage_bps": SLIPPAGE_BPS, "sizing": "fixed", "quantity": 1}
        )
        slow_rounds = min(repeat, 2)
        out(
            f"{bars:,} synthetic one-minute bars (seed {seed}), wall-clock, best of {repeat} "
            f"(the event-driven pair: best of {slow_rounds}), each job alternating with "
            "its peer's"
        )

        allocator = same_allocator_settings()
        out(
            "  both processes: glibc malloc "
            + (" ".join(f"{k}={v}" for k, v in allocator.items()) or "defaults (not glibc)")
            + "; the vectorised and indicator jobs run once untimed first on both sides"
        )

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
        ind = indicators_compute(data, p)
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
            with (Path(tmp) / "peers.err").open("w+") as errors:
                peers = subprocess.Popen(  # noqa: S603 - the operator's own interpreter
                    [peers_python, str(PEERS_SCRIPT), str(path)],
                    env={**os.environ, **allocator},
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=errors,
                    text=True,
                )

                def theirs(job: str) -> dict:
                    peers.stdin.write(job + "\n")
                    peers.stdin.flush()
                    line = peers.stdout.readline()
                    if not line:
                        errors.seek(0)
                        raise CommandError(
                            f"the peers' benchmark failed: {errors.read().strip()[-2000:]}"
                        )
                    return json.loads(line)

                try:
                    # Untimed first calls on both sides (vectorbt compiles its numba
                    # kernels on its first; every job's first call grows its heap).
                    vectorised(), theirs("vectorbt")
                    indicators_compute(data, p), theirs("talib")
                    vec, vbt = self.pair(vectorised, lambda: theirs("vectorbt"), repeat)
                    ev, bt = self.pair(event_driven, lambda: theirs("backtesting"), slow_rounds)
                    ind_s, talib = self.pair(
                        lambda: indicators_compute(data, p), lambda: theirs("talib"), repeat
                    )
                    differences = theirs("difference")
                finally:
                    peers.stdin.close()
                    peers.wait(timeout=60)
        out(
            f"  xQuant vectorised SMA 10/30 cross + fills + metrics: {vec[0]:.3f} s, "
            f"{vec[2].metrics['trade_count']:,} closed trades"
        )
        out(
            f"  xQuant event-driven live Technical class: {ev[0]:.3f} s, "
            f"{ev[2].metrics['trade_count']:,} closed trades"
        )
        out(f"  xQuant {len(ind_s[2])} indicator columns: {ind_s[0]:.3f} s")
        out(f"  vectorbt from_signals + stats: {vbt[0]:.3f} s, {vbt[2]['result']:,} trades")
        out(f"  backtesting.py Backtest.run: {bt[0]:.3f} s, {bt[2]['result']:,} trades")
        out(f"  TA-Lib, the same {len(talib[2]['result'])} columns: {talib[0]:.3f} s")
        out(
            "  largest relative difference from TA-Lib after warm-up: "
            + ", ".join(f"{k} {v:.1e}" for k, v in sorted(differences.items()))
        )
        # CPU time is less moved by neighbours on a shared machine: a cross-check.
        out(
            f"  the same in process CPU time: vectorised {vbt[1] / vec[1]:.1f}x, "
            f"event-driven {bt[1] / ev[1]:.1f}x, indicators {ind_s[1] / talib[1]:.1f}x"
        )
        out(f"vectorised: {vbt[0] / vec[0]:.1f}x vectorbt")
        out(f"event-driven: {bt[0] / ev[0]:.1f}x backtesting.py")
        out(f"indicators: {ind_s[0] / talib[0]:.1f}x TA-Lib time")

    @staticmethod
    def pair(
        ours: Callable[[], object], peer: Callable[[], dict], rounds: int
    ) -> tuple[tuple[float, float, object], tuple[float, float, dict]]:
        """Our job and the peer's, alternately, `rounds` times: for each side the best
        wall-clock (the run least disturbed by neighbours), the CPU time of that run and
        its result. Alternating puts both sides of the ratio in the same stretch of load."""
        best_ours, best_peer = (float("inf"), 0.0, None), (float("inf"), 0.0, {})
        for _ in range(rounds):
            mine = wall(ours, 1)
            if mine[0] < best_ours[0]:
                best_ours = mine
            answer = peer()
            if answer["seconds"] < best_peer[0]:
                best_peer = (answer["seconds"], answer["cpu"], answer)
        return best_ours, best_peer
