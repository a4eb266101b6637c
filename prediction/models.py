"""Stored candles and backtest runs.

Candles are Decimal, like every price in xQuant; research code converts them to
float64 arrays once, at the boundary (prediction.selectors.candle_frame), because
indicators and metrics are statistics, not money.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from prediction.timeframes import TIMEFRAMES
from trading.models import MONEY, symbol_validator


class Candle(models.Model):
    symbol = models.CharField(max_length=20, validators=[symbol_validator])
    timeframe = models.CharField(max_length=4, choices=[(t, t) for t in TIMEFRAMES])
    #: Start of the bar, UTC.
    open_time = models.DateTimeField()
    open = models.DecimalField(**MONEY)
    high = models.DecimalField(**MONEY)
    low = models.DecimalField(**MONEY)
    close = models.DecimalField(**MONEY)
    #: Base volume as the source reports it (the bundled sample: quote volume).
    volume = models.DecimalField(max_digits=40, decimal_places=12)
    #: "binance", "sample", "sample:resampled", "paper", ...
    source = models.CharField(max_length=30, default="")
    #: Simulated prices (the paper or dry-run exchange's feed). Part of the key, so a
    #: synthetic bar never overwrites, nor is read as, a real one at the same time.
    synthetic = models.BooleanField(default=False)

    class Meta:
        ordering = ["symbol", "timeframe", "open_time"]
        constraints = [
            models.UniqueConstraint(
                fields=["symbol", "timeframe", "synthetic", "open_time"],
                name="candle_unique_bar_per_kind",
            ),
            models.CheckConstraint(
                condition=Q(low__lte=models.F("high")), name="candle_low_below_high"
            ),
            models.CheckConstraint(condition=Q(volume__gte=0), name="candle_volume_nonnegative"),
        ]
        # The unique constraint's index (symbol, timeframe, open_time) serves range reads
        # in both directions; no further index is needed.

    def __str__(self) -> str:
        kind = " synthetic" if self.synthetic else ""
        return f"{self.symbol} {self.timeframe}{kind} {self.open_time:%Y-%m-%d %H:%M}"


class BacktestStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"
    FAILED = "failed", "Failed"


class BacktestEngine(models.TextChoices):
    #: A signal strategy of prediction.signals over numpy arrays.
    VECTORISED = "vectorised", "Vectorised (signal strategy)"
    #: A live trading strategy class fed two snapshots per bar (its open, its close).
    EVENT_DRIVEN = "event_driven", "Event-driven (trading strategy)"


class BacktestRun(models.Model):
    engine = models.CharField(max_length=20, choices=BacktestEngine.choices)
    #: Signal strategy name or trading strategy kind.
    strategy = models.CharField(max_length=40)
    symbol = models.CharField(max_length=20, validators=[symbol_validator])
    timeframe = models.CharField(max_length=4, choices=[(t, t) for t in TIMEFRAMES])
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    #: Strategy parameters as validated (JSON-safe).
    params = models.JSONField(default=dict, blank=True)
    #: Fees, slippage, sizing, capital, spread assumption.
    config = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=BacktestStatus.choices, default=BacktestStatus.QUEUED
    )
    #: 0..100.
    progress = models.PositiveSmallIntegerField(default=0)
    metrics = models.JSONField(default=dict, blank=True)
    #: [[iso time, equity], ...], downsampled to at most a few thousand points.
    equity_curve = models.JSONField(default=list, blank=True)
    trades = models.JSONField(default=list, blank=True)
    bar_count = models.PositiveIntegerField(default=0)
    #: What the run was computed on: sources, synthetic or real, first and last bar,
    #: bar count, gaps (prediction.selectors.frame_description).
    data = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["-created_at"], name="backtest_recent")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=BacktestStatus.values), name="backtest_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(engine__in=BacktestEngine.values), name="backtest_engine_valid"
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="backtest_progress_max"),
        ]

    def __str__(self) -> str:
        return f"backtest #{self.pk} {self.strategy} {self.symbol} {self.timeframe}"
