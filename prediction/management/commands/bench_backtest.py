from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from django.core.management.base import BaseCommand

from prediction.backtest.config import backtest_settings
from prediction.backtest.event_driven import run_event_driven
from prediction.backtest.synthetic import synthetic_minute_bars
from prediction.backtest.vectorised import run_vectorised
from prediction.indicators import INDICATOR_COLUMNS, indicator_params, indicators_compute
from prediction.signals import signal_strategy_build


def live_ma_cross_run(data, times, settings):
    """The live Technical class (MA 10/30 cross, long/short) through the event-driven
    engine over one-minute bars: the benchmarks' event-driven workload."""
    from prediction.backtest.runner import trading_strategy_build

    params = {
        "signal": "ma_cross",
        "quantity": "0.01",
        "bar_seconds": 60,
        "fast_period": 10,
        "slow_period": 30,
        "allow_short": True,
    }
    strategy = trading_strategy_build(
        kind="technical", symbol="BTCUSDT", params=params, settings=settings
    )
    return run_event_driven(
        strategy=strategy,
        open_=data.open,
        high=data.high,
        low=data.low,
        close=data.close,
        volume=data.volume,
        times=times,
        bar_seconds=60,
        settings=settings,
    )


def _timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median (wall-clock seconds, process CPU seconds) of `repeat` runs.

    Wall-clock is the figure: it is what a researcher waits. CPU time is printed beside
    it because on a shared machine the gap between the two shows the neighbours."""
    cpu, wall = [], []
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(wall), statistics.median(cpu)


class Command(BaseCommand):
    help = (
        "Benchmark the research engines on seeded synthetic one-minute bars: a vectorised "
        "signal backtest with all metrics, an event-driven backtest of the live Technical "
        "strategy class, and all indicators. Reports the median of --repeat runs in "
        "wall-clock time (process CPU time alongside)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--bars", type=int, default=1_000_000)
        parser.add_argument("--repeat", type=int, default=3)
        parser.add_argument("--seed", type=int, default=42)

    def handle(self, *args, bars: int, repeat: int, seed: int, **options):
        data, times = synthetic_minute_bars(bars, seed=seed)
        settings = backtest_settings(
            {"fee_rate": 0.0004, "slippage_bps": 1, "sizing": "fixed", "quantity": 1}
        )
        out = self.stdout.write
        out(
            f"{bars:,} synthetic one-minute bars (seed {seed}); median of {repeat} runs each, "
            "wall-clock (process CPU time in brackets)"
        )

        # (a) signal computation + fills + equity + trades + every metric.
        signal = signal_strategy_build(
            "trend_following", {"ma_type": "sma", "fast": 10, "slow": 30}
        )

        def vectorised():
            target = signal.compute(data).position
            return run_vectorised(
                open_=data.open,
                close=data.close,
                times=times,
                target=target,
                settings=settings,
                bar_seconds=60,
            )

        result = vectorised()
        vec, vec_cpu = _timed(vectorised, repeat)
        out(
            f"  vectorised SMA(10)/SMA(30) signal + fills + equity + metrics: {vec:.3f} s "
            f"({vec_cpu:.3f} s), {result.metrics['trade_count']:,} trades"
        )

        # (b) the live Technical strategy class, two snapshots per bar.
        def event_driven():
            return live_ma_cross_run(data, times, settings)

        result = event_driven()
        ev, ev_cpu = _timed(event_driven, repeat)
        out(
            f"  event-driven live Technical ma_cross 10/30, snapshots + fills + metrics: "
            f"{ev:.3f} s ({ev_cpu:.3f} s), {len(result.trades):,} trades"
        )

        # (c) every indicator of the API, default windows.
        p = indicator_params({})
        indicators_compute(data, p)
        ind, ind_cpu = _timed(lambda: indicators_compute(data, p), repeat)
        out(f"  {len(INDICATOR_COLUMNS)} indicator columns: {ind:.3f} s ({ind_cpu:.3f} s)")

        out(f"vectorised: {bars / vec:,.0f} bars/s")
        out(f"event-driven: {bars / ev:,.0f} bars/s")
        out(f"indicators: {ind:.2f} s")
