from __future__ import annotations

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from prediction.services.candles import candles_fetch
from prediction.timeframes import TIMEFRAMES
from xquant.errors import ApplicationError


def parse_moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(
            f"{value!r} is not a date or time; use e.g. 2024-01-31 or 2024-01-31T12:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = (
        "Fetch OHLCV candles from the configured exchange into the database. Incremental: "
        "only bars that are missing (holes included) are requested."
    )

    def add_arguments(self, parser):
        parser.add_argument("symbol", help="Exchange symbol, e.g. BTCUSDT")
        parser.add_argument("--timeframe", default="1h", choices=TIMEFRAMES)
        parser.add_argument("--since", required=True, help="UTC start, e.g. 2024-01-01")
        parser.add_argument("--until", help="UTC end (exclusive); default: the last closed bar")
        parser.add_argument("--limit", type=int, default=1_000, help="Bars per request (max 1500)")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, symbol, timeframe, since, until, limit, no_progress, **options):
        from exchanges.registry import get_exchange

        if not 1 <= limit <= 1_500:
            raise CommandError("--limit must be between 1 and 1500")
        exchange = get_exchange()
        bar = tqdm(total=0, unit="bar", desc=f"{symbol} {timeframe}", disable=no_progress)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        try:
            result = candles_fetch(
                exchange=exchange,
                symbol=symbol.upper(),
                timeframe=timeframe,
                since=parse_moment(since),
                until=parse_moment(until) if until else None,
                limit=limit,
                progress=progress,
            )
        except ApplicationError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            # The exchange instance is the process's shared one (registry cache): not ours to close.
            bar.close()
        kind = (
            f"synthetic candles (the {exchange.name} exchange simulates its prices; stored "
            "apart from real data, used only when asked for)"
            if result.synthetic
            else "candles"
        )
        self.stdout.write(
            f"{result.stored:,} {kind} stored in {result.requests} requests; "
            f"{len(result.gaps_found)} missing ranges found, {len(result.gaps_unfilled)} left empty "
            "(the exchange has no bars there)"
        )
        for gap in result.gaps_unfilled:
            self.stdout.write(
                f"  no data: {gap.start:%Y-%m-%d %H:%M} to {gap.end:%Y-%m-%d %H:%M} ({gap.bars} bars)"
            )
