"""`manage.py reconcile [--symbols ...]`: compare the record with the exchange and settle it."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from exchanges.registry import get_exchange
from trading.services.reconciliation import reconcile


class Command(BaseCommand):
    help = "Reconcile orders, fills and positions with the exchange, both ways."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--symbols", nargs="+")
        parser.add_argument("--exchange", choices=settings.EXCHANGE_CHOICES)

    def handle(self, *args, symbols=None, exchange=None, **options) -> None:
        report = reconcile(
            exchange=get_exchange(exchange), symbols=symbols or settings.TRADING_SYMBOLS
        )
        self.stdout.write(report.summary())
        for line in (
            report.resolved_orders
            + report.adopted_orders
            + report.corrected_positions
            + report.errors
        ):
            self.stdout.write(f"  {line}")
