from __future__ import annotations

from django.core.management.base import BaseCommand

from prediction.services.candles import (
    SAMPLE_RESAMPLED,
    SAMPLE_SYMBOL,
    SAMPLE_TIMEFRAME,
    sample_candles_load,
)


class Command(BaseCommand):
    help = (
        "Store the bundled real BTC 15-minute candles (exchanges/data) and their 1h/4h/1d "
        "resamples, so research works offline. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--symbol", default=SAMPLE_SYMBOL, help="Symbol to store them under.")
        parser.add_argument(
            "--timeframes",
            default=",".join((SAMPLE_TIMEFRAME, *SAMPLE_RESAMPLED)),
            help="Comma-separated subset of 15m,1h,4h,1d.",
        )

    def handle(self, *args, symbol: str, timeframes: str, **options):
        allowed = (SAMPLE_TIMEFRAME, *SAMPLE_RESAMPLED)
        wanted = [t.strip() for t in timeframes.split(",") if t.strip()]
        bad = [t for t in wanted if t not in allowed]
        if bad:
            from django.core.management.base import CommandError

            raise CommandError(
                f"Timeframes {', '.join(bad)} cannot be built from 15-minute bars; use {', '.join(allowed)}."
            )
        counts = sample_candles_load(symbol=symbol, timeframes=wanted)
        for timeframe, count in counts.items():
            self.stdout.write(f"{symbol} {timeframe}: {count:,} candles stored")
