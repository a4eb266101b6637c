"""The exchange account's balance, read through the exchange interface and kept."""

from __future__ import annotations

import logging

from django.utils import timezone

from exchanges.base import Exchange
from trading.events import AccountUpdated, publish
from trading.models import AccountBalance

logger = logging.getLogger("trading.account")


def account_refresh(*, exchange: Exchange) -> list[AccountBalance]:
    """Read the balances (Exchange.fetch_balance) and keep them: one row per asset,
    replaced; the pages are told."""
    balances = exchange.fetch_balance()
    now = timezone.now()
    rows = []
    for balance in balances:
        row, _ = AccountBalance.objects.update_or_create(
            exchange=exchange.name,
            asset=balance.asset,
            defaults={
                "wallet_balance": balance.total - balance.unrealized_pnl,
                "equity": balance.total,
                "unrealized_pnl": balance.unrealized_pnl,
                "used_margin": balance.used,
                "available": balance.available,
                "fetched_at": now,
            },
        )
        rows.append(row)
    publish(AccountUpdated(exchange.name, [row.asset for row in rows], now))
    return rows
