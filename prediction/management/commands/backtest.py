from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from prediction.management.commands.fetch_ohlcv import parse_moment
from prediction.models import BacktestStatus
from prediction.services.backtests import backtest_run_create, backtest_run_execute
from prediction.timeframes import TIMEFRAMES
from xquant.errors import ApplicationError


def parse_pairs(pairs: list[str], what: str) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"{what} {pair!r} must look like name=value")
        out[key.strip()] = value.strip()
    return out


class Command(BaseCommand):
    help = (
        "Backtest a signal strategy (trend_following, mean_reversion, macd_stochrsi, "
        "bollinger: vectorised) or a trading strategy kind (technical, twap, ...: "
        "event-driven, the live classes) on stored candles, store the run and print its metrics."
    )

    def add_arguments(self, parser):
        parser.add_argument("strategy")
        parser.add_argument("--symbol", default="BTCUSDT")
        parser.add_argument("--timeframe", default="15m", choices=TIMEFRAMES)
        parser.add_argument("--start", help="UTC start, e.g. 2021-10-01")
        parser.add_argument("--end", help="UTC end (exclusive)")
        parser.add_argument(
            "--param",
            action="append",
            default=[],
            help="strategy parameter name=value (repeatable)",
        )
        parser.add_argument("--params", help="strategy parameters as a JSON object")
        parser.add_argument(
            "--set",
            action="append",
            default=[],
            dest="backtest_settings",
            help="backtest setting name=value: initial_capital, fee_rate, slippage_bps, sizing, fraction, quantity, fee_inside, spread_bps, tick_size",
        )
        parser.add_argument(
            "--synthetic",
            action="store_true",
            help="run on the synthetic (paper/dry-run) candles instead of the real ones",
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(
        self,
        *args,
        strategy,
        symbol,
        timeframe,
        start,
        end,
        param,
        params,
        backtest_settings,
        synthetic,
        no_progress,
        **options,
    ):
        strategy_params = parse_pairs(param, "--param")
        if params:
            try:
                strategy_params.update(json.loads(params))
            except (json.JSONDecodeError, TypeError, AttributeError) as exc:
                raise CommandError(f"--params is not a JSON object: {exc}") from None
        try:
            run = backtest_run_create(
                strategy=strategy,
                symbol=symbol.upper(),
                timeframe=timeframe,
                start=parse_moment(start) if start else None,
                end=parse_moment(end) if end else None,
                params=strategy_params,
                settings=parse_pairs(backtest_settings, "--set"),
                synthetic=synthetic,
            )
        except ApplicationError as exc:
            raise CommandError(str(exc)) from exc
        bar = tqdm(total=run.bar_count, unit="bar", desc=f"backtest #{run.pk}", disable=no_progress)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        run = backtest_run_execute(run_id=run.pk, progress=progress)
        bar.n = bar.total
        bar.close()
        if run.status != BacktestStatus.FINISHED:
            raise CommandError(f"backtest #{run.pk} failed: {run.error}")
        self.stdout.write(
            f"backtest #{run.pk}: {run.strategy} on {run.symbol} {run.timeframe}, {run.bar_count:,} bars ({run.engine})"
        )
        data = run.data
        self.stdout.write(
            f"  data: {'SYNTHETIC ' if data['synthetic'] else ''}{', '.join(data['sources'])}, "
            f"{data['first']} to {data['last']}, {data['bars']:,} bars, "
            f"{data['gap_count']} gaps ({data['missing_bars']:,} bars missing)"
        )
        for name, value in run.metrics.items():
            shown = f"{value:,.6g}" if isinstance(value, float) else value
            self.stdout.write(f"  {name:32} {shown}")
