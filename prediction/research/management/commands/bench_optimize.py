"""python manage.py bench_optimize [--trials 200] [--workers 1 2]

Trials per second of one study configuration run by 1, then 2 (or the given counts of)
real Celery worker processes (solo pool) on this process's REDIS_URL and DATABASE_URL.
Each count gets a fresh study with the same configuration and seed; the workers are
started and answer a ping before the clock starts; the clock stops at the last trial's
completion as optuna recorded it (the study's summary afterwards is not counted).
"""

from __future__ import annotations

import os
import statistics
import time

import optuna
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from optuna.trial import TrialState

from prediction.research.models import ResearchStatus, Study
from prediction.research.services.studies import study_create
from prediction.research.storage import research_storage
from prediction.research.workers import (
    chains_enqueue,
    workers_start,
    workers_stop,
    workers_wait_ready,
)
from prediction.services.candles import sample_candles_load

SPACE = {
    "fast": {"type": "int", "low": 2, "high": 60},
    "slow": {"type": "int", "low": 61, "high": 300},
    "ma_type": {"type": "categorical", "choices": ["sma", "ema"]},
}


class Command(BaseCommand):
    help = "Trials per second of one study with 1 and with 2 Celery workers."

    def add_arguments(self, parser):
        parser.add_argument("--trials", type=int, default=200)
        parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
        parser.add_argument("--timeframe", default="1h")
        parser.add_argument("--timeout", type=float, default=900.0)
        parser.add_argument(
            "--repeat",
            type=int,
            default=1,
            help="run the worker counts in turn this many times (1, 2, 1, 2, ...) and "
            "report the median speed-up: neighbours on a shared machine move each run",
        )

    def handle(self, *args, trials, workers, timeframe, timeout, repeat, **options):
        if not settings.REDIS_URL:
            raise CommandError("REDIS_URL must name the broker the workers share.")
        if connection.vendor != "postgresql":
            raise CommandError("DATABASE_URL must be PostgreSQL (workers share the storage).")
        sample_candles_load()
        db = connection.settings_dict
        password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
        env = {
            **os.environ,
            "DATABASE_URL": (
                f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
            ),
            "REDIS_URL": settings.REDIS_URL,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "LOG_LEVEL": "WARNING",
        }
        chains = max(workers) * 2
        self.stdout.write(
            f"study: trend_following BTCUSDT {timeframe} (bundled candles), random sampler, "
            f"{trials} trials, {chains} chains, seed 7; machine: {os.cpu_count()} CPUs"
        )
        rates: dict[int, list[float]] = {count: [] for count in workers}
        for count in [c for _ in range(max(1, repeat)) for c in workers]:
            study = study_create(
                strategy="trend_following",
                symbol="BTCUSDT",
                timeframe=timeframe,
                space=SPACE,
                sampler="random",
                n_trials=trials,
                seed=7,
                parallelism=chains,
                name=f"bench {count} workers",
            )
            procs = workers_start(count, env=env, prefix=f"bench{count}")
            try:
                workers_wait_ready(count, broker_url=settings.REDIS_URL)
                started = time.time()
                chains_enqueue(study.pk, chains, broker_url=settings.REDIS_URL)
                deadline = time.monotonic() + timeout
                while True:
                    study.refresh_from_db()
                    if study.status in (ResearchStatus.FINISHED, ResearchStatus.FAILED):
                        break
                    if time.monotonic() > deadline:
                        raise CommandError(f"{count} workers: not finished in {timeout:.0f} s")
                    time.sleep(0.2)
            finally:
                workers_stop(procs)
            ostudy = optuna.load_study(study_name=study.optuna_name, storage=research_storage())
            done = [
                t
                for t in ostudy.get_trials(deepcopy=False)
                if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
            ]
            last = max(t.datetime_complete.timestamp() for t in done)
            seconds = last - started
            rate = len(done) / seconds
            rates[count].append(rate)
            self.stdout.write(
                f"{count} worker{'s' if count > 1 else ''}: {len(done)} trials in "
                f"{seconds:.1f} s = {rate:.2f} trials/s"
            )
            Study.objects.filter(pk=study.pk).update(name=f"bench {count} workers (done)")
        if len(rates) > 1:
            first, *rest = workers
            for count in rest:
                ratios = sorted(b / a for a, b in zip(rates[first], rates[count], strict=True))
                median = statistics.median(ratios)
                each = ", ".join(f"{r:.2f}x" for r in ratios)
                self.stdout.write(
                    f"speed-up {first} -> {count} workers: {median:.2f}x"
                    + (f" (median of {len(ratios)}: {each})" if len(ratios) > 1 else "")
                )
