"""State of the paper exchange: accounts, orders, trades and positions.

Kept in the database so that every process (web, trader, Celery workers) trades on the
same simulated account and it survives restarts. Every write locks the account row
first (select_for_update), which serialises writers per account on PostgreSQL; on
SQLite the IMMEDIATE transactions of the settings do the same.

Amounts are stored with 8 decimals (Binance's own precision for balances): SQLite keeps
decimals as 15-significant-digit reals, and 8 decimals stay exact there below 10^7.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypedDict

from django.db import models
from django.db.models import F, Q


class _DecimalShape(TypedDict):
    max_digits: int
    decimal_places: int


AMOUNT: _DecimalShape = {"max_digits": 30, "decimal_places": 8}
OPEN_ORDER_STATUSES = ("NEW", "PARTIALLY_FILLED")


class PaperAccount(models.Model):
    """One simulated futures account (USDT-margined)."""

    name = models.CharField(max_length=50, unique=True)
    asset = models.CharField(max_length=10, default="USDT")
    #: Deposits plus realised PnL minus fees (Binance walletBalance).
    wallet_balance = models.DecimalField(**AMOUNT)
    #: Initial margin reserved by open limit orders; kept here so that placing an order
    #: needs no aggregate query.
    order_margin = models.DecimalField(**AMOUNT, default=Decimal("0"))
    hedge_mode = models.BooleanField(default=False)
    #: {"BTCUSDT": {"leverage": 20, "isolated": false}}: read with the balance, under the
    #: same lock. Symbols not listed use Binance's defaults (20x, cross).
    symbol_settings = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(order_margin__gte=0), name="paper_account_order_margin_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"paper account {self.name}"


class PaperOrder(models.Model):
    account = models.ForeignKey(
        PaperAccount,
        on_delete=models.CASCADE,
        to_field="name",
        db_column="account_name",
        related_name="orders",
    )
    symbol = models.CharField(max_length=20)
    client_order_id = models.CharField(max_length=36)
    side = models.CharField(max_length=4)
    order_type = models.CharField(max_length=10)
    position_side = models.CharField(max_length=5, default="BOTH")
    reduce_only = models.BooleanField(default=False)
    time_in_force = models.CharField(max_length=3, blank=True)
    quantity = models.DecimalField(**AMOUNT)
    price = models.DecimalField(**AMOUNT, null=True, blank=True)
    status = models.CharField(max_length=20)
    filled_quantity = models.DecimalField(**AMOUNT, default=Decimal("0"))
    average_price = models.DecimalField(**AMOUNT, null=True, blank=True)
    #: Initial margin this order holds while it rests on the book.
    reserved_margin = models.DecimalField(**AMOUNT, default=Decimal("0"))
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [
            # The crossing check of every market snapshot reads open orders of a symbol.
            models.Index(
                fields=["account", "symbol"],
                name="paper_order_open",
                condition=Q(status__in=OPEN_ORDER_STATUSES),
            ),
            models.Index(fields=["account", "client_order_id", "-id"], name="paper_order_client"),
        ]
        constraints = [
            # Binance's rule: a client order id is unique among open orders (-4116).
            models.UniqueConstraint(
                fields=["account", "client_order_id"],
                condition=Q(status__in=OPEN_ORDER_STATUSES),
                name="paper_order_client_id_open_unique",
            ),
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="paper_order_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(filled_quantity__gte=0) & Q(filled_quantity__lte=F("quantity")),
                name="paper_order_filled_within_quantity",
            ),
            models.CheckConstraint(
                condition=~Q(status="FILLED") | Q(filled_quantity=F("quantity")),
                name="paper_order_filled_means_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.quantity} {self.symbol} [{self.status}]"


class PaperTrade(models.Model):
    account = models.ForeignKey(
        PaperAccount,
        on_delete=models.CASCADE,
        to_field="name",
        db_column="account_name",
        related_name="trades",
    )
    order = models.ForeignKey(PaperOrder, on_delete=models.CASCADE, related_name="trades")
    symbol = models.CharField(max_length=20)
    side = models.CharField(max_length=4)
    position_side = models.CharField(max_length=5, default="BOTH")
    price = models.DecimalField(**AMOUNT)
    quantity = models.DecimalField(**AMOUNT)
    fee = models.DecimalField(**AMOUNT)
    #: Gross PnL the trade realised on the position (before its fee).
    realized_pnl = models.DecimalField(**AMOUNT, default=Decimal("0"))
    is_maker = models.BooleanField(default=False)
    executed_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(
                fields=["account", "symbol", "executed_at"], name="paper_trade_symbol_time"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="paper_trade_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.quantity} {self.symbol} @ {self.price}"


class PaperPosition(models.Model):
    account = models.ForeignKey(
        PaperAccount,
        on_delete=models.CASCADE,
        to_field="name",
        db_column="account_name",
        related_name="positions",
    )
    symbol = models.CharField(max_length=20)
    position_side = models.CharField(max_length=5, default="BOTH")
    #: Signed: positive long, negative short.
    quantity = models.DecimalField(**AMOUNT, default=Decimal("0"))
    entry_price = models.DecimalField(**AMOUNT, default=Decimal("0"))
    #: Cumulative gross realised PnL of this position (fees are in the trades).
    realized_pnl = models.DecimalField(**AMOUNT, default=Decimal("0"))
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "symbol", "position_side"], name="paper_position_unique"
            ),
            models.CheckConstraint(
                condition=~Q(position_side="LONG") | Q(quantity__gte=0),
                name="paper_position_long_not_negative",
            ),
            models.CheckConstraint(
                condition=~Q(position_side="SHORT") | Q(quantity__lte=0),
                name="paper_position_short_not_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.position_side} {self.quantity}"
