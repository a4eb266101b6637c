"""Parameter studies and walk-forward analyses.

A Study row is the desk's record of a study: what was asked, its status and, once
finished, its summary (best trials, importance, heatmap, overfitting statistics). The
trials themselves live in optuna's storage (prediction.research.storage), shared by
every worker; `optuna_name` links the two.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from prediction.timeframes import TIMEFRAMES
from trading.models import symbol_validator


class ResearchStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"
    FAILED = "failed", "Failed"


class Objective(models.TextChoices):
    SHARPE = "sharpe", "Sharpe ratio"
    SORTINO = "sortino", "Sortino ratio"
    TOTAL_RETURN = "total_return", "Total return"
    CALMAR = "calmar", "Calmar ratio (CAGR / max drawdown)"
    PROFIT_FACTOR = "profit_factor", "Profit factor"


class Sampler(models.TextChoices):
    GRID = "grid", "Grid"
    RANDOM = "random", "Random"
    TPE = "tpe", "Bayesian (TPE)"


class Study(models.Model):
    name = models.CharField(max_length=100, blank=True)
    #: Signal strategy name (vectorised engine) or trading kind (event-driven engine).
    strategy = models.CharField(max_length=40)
    engine = models.CharField(max_length=20)
    symbol = models.CharField(max_length=20, validators=[symbol_validator])
    timeframe = models.CharField(max_length=4, choices=[(t, t) for t in TIMEFRAMES])
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    synthetic = models.BooleanField(default=False)
    #: {param: {"type": "int"|"float"|"categorical", "low", "high", "step", "log", "choices"}}
    space = models.JSONField(default=dict)
    #: Parameters held fixed in every trial.
    fixed_params = models.JSONField(default=dict, blank=True)
    #: Backtest settings (fees, sizing, ...), validated.
    config = models.JSONField(default=dict, blank=True)
    objective = models.CharField(max_length=20, choices=Objective.choices)
    #: {"min_trades": int, "max_drawdown": fraction}; a trial that breaks one is infeasible.
    constraints = models.JSONField(default=dict, blank=True)
    sampler = models.CharField(max_length=10, choices=Sampler.choices)
    n_trials = models.PositiveIntegerField()
    seed = models.BigIntegerField(null=True, blank=True)
    #: Trial chains kept in flight on the workers (how many trials run at once at most).
    parallelism = models.PositiveSmallIntegerField(default=4)
    pruning = models.BooleanField(default=False)
    optuna_name = models.CharField(max_length=120, unique=True)
    status = models.CharField(
        max_length=10, choices=ResearchStatus.choices, default=ResearchStatus.QUEUED
    )
    #: Trials finished (complete, pruned, failed on their own), kept current for the page.
    trials_done = models.PositiveIntegerField(default=0)
    bar_count = models.PositiveIntegerField(default=0)
    data = models.JSONField(default=dict, blank=True)
    #: Summary of a finished study (prediction.research.services.results).
    results = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "studies"
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ResearchStatus.values), name="study_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(objective__in=Objective.values), name="study_objective_valid"
            ),
            models.CheckConstraint(
                condition=Q(sampler__in=Sampler.values), name="study_sampler_valid"
            ),
            models.CheckConstraint(condition=Q(n_trials__gte=1), name="study_trials_positive"),
        ]

    def __str__(self) -> str:
        return f"study #{self.pk} {self.strategy} {self.symbol} {self.timeframe}"

    @property
    def progress(self) -> int:
        return min(100, int(self.trials_done * 100 / self.n_trials)) if self.n_trials else 0


class WalkForward(models.Model):
    strategy = models.CharField(max_length=40)
    engine = models.CharField(max_length=20)
    symbol = models.CharField(max_length=20, validators=[symbol_validator])
    timeframe = models.CharField(max_length=4, choices=[(t, t) for t in TIMEFRAMES])
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    synthetic = models.BooleanField(default=False)
    space = models.JSONField(default=dict)
    fixed_params = models.JSONField(default=dict, blank=True)
    config = models.JSONField(default=dict, blank=True)
    objective = models.CharField(max_length=20, choices=Objective.choices)
    constraints = models.JSONField(default=dict, blank=True)
    sampler = models.CharField(max_length=10, choices=Sampler.choices)
    #: Trials per in-sample optimisation.
    n_trials = models.PositiveIntegerField()
    seed = models.BigIntegerField(null=True, blank=True)
    #: "rolling" or "anchored".
    mode = models.CharField(max_length=10)
    windows = models.PositiveSmallIntegerField()
    #: Out-of-sample share of each window (0..1).
    oos_fraction = models.FloatField()
    #: The study whose best parameters this analysis checks, if any.
    study = models.ForeignKey(
        Study, null=True, blank=True, on_delete=models.SET_NULL, related_name="walkforwards"
    )
    status = models.CharField(
        max_length=10, choices=ResearchStatus.choices, default=ResearchStatus.QUEUED
    )
    windows_done = models.PositiveSmallIntegerField(default=0)
    #: {"windows": [...], "stitched": [[iso, equity], ...], "summary": {...}}
    results = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ResearchStatus.values), name="walkforward_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(mode__in=["rolling", "anchored"]), name="walkforward_mode_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"walk-forward #{self.pk} {self.strategy} {self.symbol} {self.timeframe}"
