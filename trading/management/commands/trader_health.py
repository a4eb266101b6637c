"""`manage.py trader_health`: exit 0 when every symbol ticked recently (container healthcheck)."""

from __future__ import annotations

import sys
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from trading.models import TraderHeartbeat


class Command(BaseCommand):
    help = "Check that the trading loop ticked every symbol within 3 tick intervals."

    def handle(self, *args, **options) -> None:
        cutoff = timezone.now() - timedelta(seconds=max(30.0, 3 * settings.TICK_SECONDS))
        fresh = set(
            TraderHeartbeat.objects.filter(last_tick_at__gte=cutoff).values_list(
                "symbol", flat=True
            )
        )
        stale = [s for s in settings.TRADING_SYMBOLS if s not in fresh]
        if stale:
            self.stderr.write(f"no recent tick for: {', '.join(stale)}")
            sys.exit(1)
        self.stdout.write("trader healthy")
