"""Backtest runs: validate and store a request, execute it, report progress to the
dashboard, keep the results for later listing. Queuing a run for a worker is the task
module's job (prediction.tasks.backtest_run_launch): services never import tasks."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from prediction.backtest.config import backtest_settings
from prediction.backtest.event_driven import event_driven_sizing_check
from prediction.backtest.runner import (
    result_equity_curve,
    result_trades,
    run_signal_backtest,
    run_strategy_backtest,
    trading_strategy_build,
)
from prediction.models import BacktestEngine, BacktestRun, BacktestStatus
from prediction.selectors import candle_frame, frame_description
from prediction.signals import SIGNAL_STRATEGIES, signal_strategy_build
from prediction.timeframes import timeframe_seconds
from trading.strategies.params import PARAMS_BY_KIND, params_to_json
from xquant import realtime
from xquant.errors import ValidationError

logger = logging.getLogger(__name__)

#: Fewer bars than this cannot say anything about a strategy.
MIN_BACKTEST_BARS = 50


def _engine_for(strategy: str, engine: str | None) -> str:
    if strategy not in SIGNAL_STRATEGIES and strategy not in PARAMS_BY_KIND:
        raise ValidationError(
            f"Unknown strategy {strategy!r}. Signal strategies (vectorised engine): "
            f"{', '.join(SIGNAL_STRATEGIES)}; trading strategies (event-driven engine): "
            f"{', '.join(PARAMS_BY_KIND)}.",
            extra={"fields": {"strategy": [f"Unknown strategy {strategy!r}."]}},
        )
    if engine:
        if engine not in BacktestEngine.values:
            raise ValidationError(
                f"Unknown engine {engine!r}. Allowed: {', '.join(BacktestEngine.values)}.",
                extra={"fields": {"engine": [f"Unknown engine {engine!r}."]}},
            )
        return engine
    return (
        BacktestEngine.VECTORISED if strategy in SIGNAL_STRATEGIES else BacktestEngine.EVENT_DRIVEN
    )


def backtest_run_create(
    *,
    strategy: str,
    symbol: str,
    timeframe: str,
    engine: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    params: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    synthetic: bool = False,
    user=None,
) -> BacktestRun:
    """Validate everything a run needs (400 on bad input) and store it as queued.

    `strategy` is a signal strategy name (vectorised engine) or a trading strategy
    kind (event-driven engine, the live classes)."""
    engine = _engine_for(strategy, engine)
    # Left out, sizing is what each engine does without being told: signal strategies
    # commit equity; the live classes trade their own quantities, as live.
    config = backtest_settings(
        settings,
        default_sizing="fraction" if engine == BacktestEngine.VECTORISED else "strategy",
    )
    if engine == BacktestEngine.VECTORISED:
        if config.sizing == "strategy":
            raise ValidationError(
                "Sizing 'strategy' needs a trading strategy's own quantities; signal "
                "strategies take sizing fraction or fixed.",
                extra={"fields": {"sizing": ["Not available on the vectorised engine."]}},
            )
        validated = signal_strategy_build(strategy, params).params
    else:
        event_driven_sizing_check(kind=strategy, settings=config)
        validated = trading_strategy_build(
            kind=strategy,
            symbol=symbol,
            params=params or {},
            settings=config,
            bar_seconds=timeframe_seconds(timeframe),
        ).params
    frame = candle_frame(
        symbol=symbol,
        timeframe=timeframe,
        start=start,
        end=end,
        min_bars=MIN_BACKTEST_BARS,
        synthetic=synthetic,
    )
    return BacktestRun.objects.create(
        engine=engine,
        strategy=strategy,
        symbol=symbol,
        timeframe=timeframe,
        start=start or frame.index[0].to_pydatetime(),
        end=end,
        params=params_to_json(validated),
        config=config.as_dict(),
        bar_count=len(frame),
        data=frame_description(frame, symbol=symbol, timeframe=timeframe, synthetic=synthetic),
        # The API_TOKEN client is not a database user.
        created_by=user if isinstance(user, get_user_model()) else None,
    )


class _Reporter:
    """Publishes progress at most once per percent; stores it every ten percent."""

    def __init__(self, run: BacktestRun, also: Callable[[int, int], None] | None = None):
        self.run = run
        self.also = also
        self.last = -1
        self.stored = 0

    def __call__(self, done: int, total: int) -> None:
        if self.also:
            self.also(done, total)
        percent = min(100, int(done * 100 / total)) if total else 100
        if percent == self.last:
            return
        self.last = percent
        realtime.publish(
            realtime.DASHBOARD_GROUP, "backtest.progress", {"id": self.run.pk, "percent": percent}
        )
        if percent - self.stored >= 10:
            self.stored = percent
            BacktestRun.objects.filter(pk=self.run.pk).update(progress=percent)


def backtest_run_execute(
    *, run_id: int, progress: Callable[[int, int], None] | None = None
) -> BacktestRun:
    """Run a stored backtest to the end, saving metrics, equity curve and trades.

    A failure is stored on the run (status failed, error) rather than raised, so a
    worker never retries a backtest that cannot succeed."""
    run = BacktestRun.objects.get(pk=run_id)
    if run.status in (BacktestStatus.FINISHED, BacktestStatus.RUNNING):
        return run
    run.status = BacktestStatus.RUNNING
    run.started_at = timezone.now()
    run.save(update_fields=["status", "started_at"])
    report = _Reporter(run, progress)
    report(0, 1)
    try:
        config = backtest_settings(run.config)
        bar_seconds = timeframe_seconds(run.timeframe)
        frame = candle_frame(
            symbol=run.symbol,
            timeframe=run.timeframe,
            start=run.start,
            end=run.end,
            min_bars=MIN_BACKTEST_BARS,
            synthetic=bool(run.data.get("synthetic")),
        )
        if run.engine == BacktestEngine.VECTORISED:
            result, _ = run_signal_backtest(
                frame=frame,
                strategy=run.strategy,
                params=run.params,
                settings=config,
                bar_seconds=bar_seconds,
            )
        else:
            strategy = trading_strategy_build(
                kind=run.strategy,
                symbol=run.symbol,
                params=run.params,
                settings=config,
                bar_seconds=bar_seconds,
            )
            result = run_strategy_backtest(
                frame=frame,
                strategy=strategy,
                settings=config,
                bar_seconds=bar_seconds,
                progress=report,
            )
        run.metrics = result.metrics
        run.equity_curve = result_equity_curve(result, frame.index)
        run.trades = result_trades(result, frame.index)
        run.bar_count = len(frame)
        run.data = frame_description(
            frame, symbol=run.symbol, timeframe=run.timeframe, synthetic=run.data.get("synthetic")
        )
        run.status = BacktestStatus.FINISHED
        run.progress = 100
    except Exception as exc:
        logger.exception("backtest %s failed", run.pk)
        run.status = BacktestStatus.FAILED
        run.error = str(exc) or exc.__class__.__name__
    run.finished_at = timezone.now()
    run.save()
    if run.status == BacktestStatus.FINISHED:
        report(1, 1)
    realtime.publish(
        realtime.DASHBOARD_GROUP,
        "backtest.finished",
        {
            "id": run.pk,
            "status": run.status,
            "error": run.error,
            "total_return": run.metrics.get("total_return"),
            "sharpe": run.metrics.get("sharpe"),
            "trade_count": run.metrics.get("trade_count"),
        },
    )
    return run
