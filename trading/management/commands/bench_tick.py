"""`manage.py bench_tick`: trading ticks per second on the paper exchange and PostgreSQL.

Every tick is the real one (trading.services.tick): snapshot, order sync, position marks,
strategies, risk, orders persisted with the strategies' state, inline submission, fills
and positions — all committed before the tick ends. Symbols are split over worker
processes the way Celery workers share them. A simulated clock advances one second per
round so the strategies trade as they would live (TWAP slices come due, bars close).

It runs on its own paper account and symbols (BX000USDT, ...) and removes what it
created afterwards. The last line is the summary: `1234 ticks/s, p50 1.2 ms, p99 8.5 ms`.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections

BENCH_ACCOUNT = "bench"


def bench_symbols(count: int) -> list[str]:
    return [f"BX{i:03d}USDT" for i in range(count)]


def strategy_mix(symbol: str, count: int) -> list[dict]:
    """A desk-like mix: signal strategies on short bars, execution algorithms working
    parent orders, a protective stop. Quantities fit the generic offline symbol rules."""
    mix = [
        {
            "kind": "technical",
            "params": {
                "signal": "ma_cross",
                "quantity": "10",
                "bar_seconds": 5,
                "fast_period": 3,
                "slow_period": 8,
            },
        },
        {
            "kind": "twap",
            "params": {
                "side": "BUY",
                "total_quantity": "5000",
                "slices": 500,
                "interval_seconds": 30,
            },
        },
        {
            "kind": "technical",
            "params": {"signal": "rsi", "quantity": "10", "bar_seconds": 5, "rsi_period": 6},
        },
        {
            "kind": "iceberg",
            "params": {"side": "SELL", "total_quantity": "2000", "visible_quantity": "20"},
        },
        {
            "kind": "trailing_stop",
            "params": {"side": "SELL", "quantity": "10", "trail_percent": "0.5"},
        },
        {
            "kind": "vwap",
            "params": {
                "side": "SELL",
                "total_quantity": "3000",
                "volume_profile": [1, 2, 3, 2, 1] * 20,
                "interval_seconds": 20,
            },
        },
    ]
    return [{**mix[i % len(mix)], "name": f"bench {symbol} {i}"} for i in range(count)]


def _worker(
    symbols: list[str], seconds: float, start_at: float, measure_from: float, results
) -> None:
    """One process: tick its symbols round after round until the time is up; ticks that
    end before `measure_from` are warm-up and not counted."""
    import django

    django.setup()
    from exchanges.market_data import SyntheticFeed
    from exchanges.paper import PaperExchange
    from trading.services.orders import SendNow
    from trading.services.strategy_manager import StrategyManager
    from trading.services.tick import tick_run

    # Simulated time starts at the real minute (exchange and record timestamps agree)
    # and moves one second per round, faster than real time once rounds are quick.
    start = datetime.fromtimestamp(start_at, UTC).replace(microsecond=0)

    class BenchClock:
        now = start

    clock = BenchClock()
    exchange = PaperExchange(
        feed=SyntheticFeed(seed=11),
        clock=lambda: clock.now,
        account=BENCH_ACCOUNT,
        starting_balance="100000000",
        symbols=symbols,
    )
    manager = StrategyManager(exchange)
    submit = SendNow(exchange)
    latencies: list[tuple[float, bool]] = []  # (ms, whether the tick placed orders)
    orders = errors = 0
    while time.time() < start_at:
        time.sleep(0.01)
    deadline = start_at + seconds
    round_ = 0
    while time.time() < deadline:
        clock.now = start + timedelta(seconds=round_)
        for symbol in symbols:
            began = time.perf_counter()
            traded = False
            try:
                result = tick_run(symbol=symbol, exchange=exchange, manager=manager, submit=submit)
                orders += len(result.orders)
                traded = bool(result.orders)
            except Exception:
                errors += 1
            if time.time() >= measure_from:
                latencies.append(((time.perf_counter() - began) * 1000, traded))
        round_ += 1
    connections.close_all()
    results.put((latencies, orders, errors))


def _percentiles(latencies: list[float]) -> str:
    p99 = statistics.quantiles(latencies, n=100)[98]
    return f"p50 {statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms"


class Command(BaseCommand):
    help = "Benchmark the trading tick on the paper exchange and PostgreSQL."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--symbols", type=int, default=100)
        parser.add_argument(
            "--strategies", type=int, default=5, help="active strategies per symbol"
        )
        parser.add_argument("--seconds", type=float, default=20.0, help="measured run time")
        parser.add_argument("--workers", type=int, default=2, help="processes sharing the symbols")
        parser.add_argument(
            "--warmup", type=float, default=3.0, help="seconds ticked but not measured"
        )

    def handle(
        self,
        *args,
        symbols: int,
        strategies: int,
        seconds: float,
        workers: int,
        warmup: float,
        **options,
    ):
        if connection.vendor != "postgresql":
            raise CommandError(
                "bench_tick measures PostgreSQL: set DATABASE_URL to a PostgreSQL database "
                "(`make bench` creates a throwaway one)"
            )
        names = bench_symbols(symbols)
        # The desk trades exactly these symbols, here and in the spawned workers (a
        # strategy can only be switched on for a symbol the loop ticks).
        os.environ["TRADING_SYMBOLS"] = ",".join(names)
        settings.TRADING_SYMBOLS = names
        self._setup(names, strategies)
        try:
            latencies, orders, errors, elapsed = self._run(names, warmup, seconds, workers)
            counts = self._counts()
        finally:
            self._cleanup(names)
        ticks = len(latencies)
        self.stdout.write(
            f"{symbols} symbols × {strategies} strategies, {workers} worker processes, {seconds:.0f} s: "
            f"{ticks} ticks, {orders} orders ({counts['fills']} fills, {counts['positions']} positions), "
            f"{errors} tick errors"
        )
        for label, traded in (("without orders", False), ("placing orders", True)):
            part = [ms for ms, placed in latencies if placed is traded]
            if len(part) > 1:
                self.stdout.write(f"  {len(part)} ticks {label}: {_percentiles(part)}")
        self.stdout.write(
            f"{ticks / elapsed:.0f} ticks/s, {_percentiles([ms for ms, _ in latencies])}"
        )

    def _run(self, names: list[str], warmup: float, seconds: float, workers: int):
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        start_at = time.time() + 3.0  # every worker starts at the same moment
        measure_from = start_at + warmup
        processes = [
            context.Process(
                target=_worker,
                args=(names[i::workers], warmup + seconds, start_at, measure_from, results),
            )
            for i in range(workers)
        ]
        for process in processes:
            process.start()
        collected = [results.get(timeout=warmup + seconds + 120) for _ in processes]
        for process in processes:
            process.join(timeout=30)
        latencies = [latency for part in collected for latency in part[0]]
        return latencies, sum(p[1] for p in collected), sum(p[2] for p in collected), seconds

    def _setup(self, names: list[str], strategies: int) -> None:
        from trading.models import StrategyConfig
        from trading.selectors import risk_limits_get
        from trading.services.strategies import strategy_config_create

        self._cleanup(names)
        limits = risk_limits_get()
        # The benchmark measures the machinery, not the limits: let every order through.
        limits.max_order_notional = limits.max_position_notional = limits.daily_loss_limit = (
            Decimal("1e15")
        )
        limits.kill_switch_engaged = False
        limits.save()
        for symbol in names:
            for spec in strategy_mix(symbol, strategies):
                strategy_config_create(symbol=symbol, is_active=True, **spec)
        self.stdout.write(
            f"{StrategyConfig.objects.filter(symbol__in=names).count()} bench strategies created"
        )

    def _counts(self) -> dict[str, int]:
        from trading.models import Fill, Position

        return {
            "fills": Fill.objects.filter(symbol__startswith="BX").count(),
            "positions": Position.objects.filter(symbol__startswith="BX")
            .exclude(quantity=0)
            .count(),
        }

    def _cleanup(self, names: list[str]) -> None:
        from exchanges.models import PaperAccount
        from trading.models import (
            Fill,
            Order,
            Position,
            StrategyConfig,
            StrategyPosition,
            TraderHeartbeat,
        )

        Fill.objects.filter(symbol__in=names).delete()
        Order.objects.filter(symbol__in=names).delete()
        Position.objects.filter(symbol__in=names).delete()
        StrategyPosition.objects.filter(symbol__in=names).delete()
        TraderHeartbeat.objects.filter(symbol__in=names).delete()
        StrategyConfig.objects.filter(symbol__in=names).delete()
        PaperAccount.objects.filter(name=BENCH_ACCOUNT).delete()
