"""Persistent record of strategies, orders, fills, positions and risk limits.

Whatever must never be violated is a database constraint, not only Python: a second
process, a manual SQL fix or a bug elsewhere cannot put a duplicate client order id,
a duplicate fill or an overfilled order into these tables.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q

# Prices and quantities: 30 digits with 12 decimals covers BTC at 10^7 USDT with
# 1e-12 precision and sub-cent coins with 12 decimals. Never float.
MONEY = {"max_digits": 30, "decimal_places": 12}


def _plain(value: Decimal | None) -> str:
    """A stored amount without the padding of its 12 places (for names of rows)."""
    return "-" if value is None else format(value.normalize(), "f")


symbol_validator = RegexValidator(
    settings.SYMBOL_PATTERN, "Use the exchange symbol in capitals, e.g. BTCUSDT."
)
# Binance's rule for newClientOrderId; other exchanges accept a subset of it.
CLIENT_ORDER_ID_PATTERN = r"^[.A-Z:/a-z0-9_-]{1,36}$"


def _choices_check(
    field: str, choices: type[models.TextChoices], name: str
) -> models.CheckConstraint:
    return models.CheckConstraint(condition=Q(**{f"{field}__in": choices.values}), name=name)


class StrategyKind(models.TextChoices):
    VWAP = "vwap", "VWAP"
    TWAP = "twap", "TWAP"
    ICEBERG = "iceberg", "Iceberg"
    TRAILING_STOP = "trailing_stop", "Trailing stop"
    TECHNICAL = "technical", "Technical"
    COMBINED = "combined", "Combined"


class StrategyStatus(models.TextChoices):
    OK = "ok", "OK"
    #: The strategy raised during a tick; it is skipped until an operator resets it.
    ERRORED = "errored", "Errored"
    #: An execution algorithm that has worked its whole parent quantity.
    FINISHED = "finished", "Finished"


class StrategyConfig(models.Model):
    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=StrategyKind.choices)
    symbol = models.CharField(max_length=20, validators=[symbol_validator])
    #: Validated per kind by trading.strategies.params before every save.
    params = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=False)
    #: The strategy's own state, saved after every tick so a restart resumes it.
    state = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=20, choices=StrategyStatus.choices, default=StrategyStatus.OK
    )
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    state_updated_at = models.DateTimeField(null=True, blank=True)
    #: Bumped on every state save; with updated_at (which state saves leave alone) it
    #: tells a process whether its in-memory strategy instance is still current.
    state_version = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["symbol", "name"]
        indexes = [models.Index(fields=["symbol", "is_active"], name="strategy_symbol_active")]
        constraints = [
            _choices_check("kind", StrategyKind, "strategy_kind_valid"),
            _choices_check("status", StrategyStatus, "strategy_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()} {self.symbol})"


class OrderSide(models.TextChoices):
    BUY = "BUY", "Buy"
    SELL = "SELL", "Sell"


class OrderType(models.TextChoices):
    MARKET = "MARKET", "Market"
    LIMIT = "LIMIT", "Limit"


class PositionSide(models.TextChoices):
    #: One-way mode: a single net position per symbol.
    BOTH = "BOTH", "Both (one-way)"
    LONG = "LONG", "Long (hedge)"
    SHORT = "SHORT", "Short (hedge)"


class TimeInForce(models.TextChoices):
    GTC = "GTC", "Good till cancel"
    IOC = "IOC", "Immediate or cancel"
    FOK = "FOK", "Fill or kill"
    GTX = "GTX", "Post only"


class OrderSource(models.TextChoices):
    STRATEGY = "strategy", "Strategy"
    API = "api", "API"
    ADMIN = "admin", "Admin"
    #: Found on the exchange but not in the database, and adopted by reconciliation.
    RECONCILIATION = "reconciliation", "Reconciliation"


class OrderStatus(models.TextChoices):
    #: Persisted with its client order id; no request has been sent.
    PENDING = "pending", "Pending"
    #: A request was sent and may have reached the exchange: the order is looked up by
    #: its client order id before anything is sent again.
    SUBMITTING = "submitting", "Submitting"
    OPEN = "open", "Open"
    PARTIALLY_FILLED = "partially_filled", "Partially filled"
    FILLED = "filled", "Filled"
    CANCELED = "canceled", "Canceled"
    #: Refused by a risk guard, a local exchange filter or the exchange itself.
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"


OPEN_STATUSES = frozenset({OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED})
#: Statuses whose order may still change on the exchange (reconciliation looks at them).
ACTIVE_STATUSES = frozenset({OrderStatus.PENDING, OrderStatus.SUBMITTING, *OPEN_STATUSES})
TERMINAL_STATUSES = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)

#: The order state machine. A status not listed as a key is terminal.
ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    OrderStatus.PENDING: frozenset(
        {OrderStatus.SUBMITTING, OrderStatus.REJECTED, OrderStatus.CANCELED}
    ),
    OrderStatus.SUBMITTING: frozenset(
        {
            OrderStatus.OPEN,
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELED,
            OrderStatus.REJECTED,
            OrderStatus.EXPIRED,
        }
    ),
    OrderStatus.OPEN: frozenset(
        {
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELED,
            OrderStatus.EXPIRED,
        }
    ),
    OrderStatus.PARTIALLY_FILLED: frozenset(
        {
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELED,
            OrderStatus.EXPIRED,
        }
    ),
}


def order_can_transition(current: str, new: str) -> bool:
    return current == new or new in ORDER_TRANSITIONS.get(current, frozenset())


class Order(models.Model):
    client_order_id = models.CharField(
        max_length=36,
        unique=True,
        validators=[RegexValidator(CLIENT_ORDER_ID_PATTERN)],
        help_text="Fixed before any network call; the exchange lookup key after a timeout.",
    )
    exchange = models.CharField(max_length=20)
    # NULL until the exchange answers: unique only among orders that have one.
    exchange_order_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    symbol = models.CharField(max_length=20, validators=[symbol_validator])
    side = models.CharField(max_length=4, choices=OrderSide.choices)
    order_type = models.CharField(max_length=10, choices=OrderType.choices)
    position_side = models.CharField(
        max_length=5, choices=PositionSide.choices, default=PositionSide.BOTH
    )
    reduce_only = models.BooleanField(default=False)
    time_in_force = models.CharField(max_length=3, choices=TimeInForce.choices, blank=True)
    quantity = models.DecimalField(**MONEY)
    price = models.DecimalField(**MONEY, null=True, blank=True)
    #: Mid price when the order was decided; the risk guards value market orders at it.
    reference_price = models.DecimalField(**MONEY, null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=OrderStatus.choices, default=OrderStatus.PENDING
    )
    filled_quantity = models.DecimalField(**MONEY, default=Decimal("0"))
    average_price = models.DecimalField(**MONEY, null=True, blank=True)
    strategy = models.ForeignKey(
        StrategyConfig,
        # Trading history keeps its attribution: a strategy with orders is deactivated,
        # not deleted.
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
    )
    source = models.CharField(max_length=20, choices=OrderSource.choices)
    #: The strategy's own key for the intent (trading.strategies.base.OrderIntent.key).
    intent_key = models.CharField(max_length=64, blank=True)
    #: Why the order exists, in words ("TWAP slice 3/10", "manual").
    reason = models.CharField(max_length=200, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    #: The person who placed a manual order (API session or token, dashboard, admin).
    #: Kept: a person with orders is deactivated, not deleted.
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders_placed",
    )
    #: Who placed it, in words: the username, "api-token (trader)", or "" for a strategy.
    placed_by_name = models.CharField(max_length=150, blank=True, default="", db_default="")
    attempt_count = models.PositiveIntegerField(default=0)
    #: Set whenever status or filled quantity changes; the next tick of the order's
    #: strategy reads it (OrderUpdate) and clears it in the transaction that saves the
    #: strategy's state, so a strategy hears of every change exactly once.
    strategy_update_pending = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    #: The process sending the order (host:pid), and until when: while the lease runs,
    #: no other process settles it (start-up reconciliation would otherwise look up and
    #: resolve an order the web API or a worker is still sending).
    claimed_by = models.CharField(max_length=80, blank=True, default="", db_default="")
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # Placing an order is Django's add_order (xquant.roles).
        permissions = [("cancel_order", "Can cancel orders")]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="order_created"),
            models.Index(fields=["symbol", "-created_at"], name="order_symbol_created"),
            models.Index(fields=["status", "-created_at"], name="order_status_created"),
            models.Index(fields=["strategy", "-created_at"], name="order_strategy_created"),
            models.Index(
                fields=["exchange", "symbol"],
                name="order_active",
                condition=Q(status__in=sorted(ACTIVE_STATUSES)),
            ),
            models.Index(
                fields=["strategy"],
                name="order_strategy_update_pending",
                condition=Q(strategy_update_pending=True),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["exchange", "symbol", "exchange_order_id"],
                condition=Q(exchange_order_id__isnull=False),
                name="order_exchange_id_unique",
            ),
            # One intent, one order: a strategy re-emitting an intent after a crash or a
            # retried tick cannot create a second order for it.
            models.UniqueConstraint(
                fields=["strategy", "intent_key"],
                condition=~Q(intent_key=""),
                name="order_intent_unique",
            ),
            _choices_check("side", OrderSide, "order_side_valid"),
            _choices_check("order_type", OrderType, "order_type_valid"),
            _choices_check("position_side", PositionSide, "order_position_side_valid"),
            _choices_check("status", OrderStatus, "order_status_valid"),
            _choices_check("source", OrderSource, "order_source_valid"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_quantity_positive"),
            models.CheckConstraint(
                condition=Q(price__isnull=True) | Q(price__gt=0), name="order_price_positive"
            ),
            models.CheckConstraint(
                condition=~Q(order_type=OrderType.LIMIT) | Q(price__isnull=False),
                name="order_limit_has_price",
            ),
            models.CheckConstraint(
                condition=Q(filled_quantity__gte=0) & Q(filled_quantity__lte=F("quantity")),
                name="order_filled_within_quantity",
            ),
            models.CheckConstraint(
                condition=~Q(status=OrderStatus.FILLED) | Q(filled_quantity=F("quantity")),
                name="order_filled_means_complete",
            ),
            # Binance refuses reduceOnly in hedge mode: there the position side says it.
            models.CheckConstraint(
                condition=Q(reduce_only=False) | Q(position_side=PositionSide.BOTH),
                name="order_reduce_only_one_way",
            ),
            models.CheckConstraint(
                condition=~Q(source=OrderSource.STRATEGY) | Q(strategy__isnull=False),
                name="order_strategy_source_has_strategy",
            ),
        ]

    def __str__(self) -> str:
        price = f" @ {_plain(self.price)}" if self.price is not None else ""
        return f"{self.side} {_plain(self.quantity)} {self.symbol}{price} [{self.status}]"

    @property
    def message_is_error(self) -> bool:
        """Whether error_message says what went wrong (a rejection, a code), rather than
        why someone cancelled it on purpose (a trader, the kill switch)."""
        return bool(self.error_code) or self.status != OrderStatus.CANCELED

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def remaining_quantity(self) -> Decimal:
        return self.quantity - self.filled_quantity


class AttemptAction(models.TextChoices):
    SUBMIT = "submit", "Submit"
    LOOKUP = "lookup", "Look up by client order id"
    CANCEL = "cancel", "Cancel"
    SYNC_TIME = "sync_time", "Sync server time"


class AttemptOutcome(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    FOUND = "found", "Found"
    NOT_FOUND = "not_found", "Not found"
    REJECTED = "rejected", "Rejected"
    INSUFFICIENT_FUNDS = "insufficient_funds", "Insufficient funds"
    RATE_LIMITED = "rate_limited", "Rate limited"
    TIME_DRIFT = "time_drift", "Timestamp drift"
    UNKNOWN = "unknown", "Outcome unknown"
    AUTH = "auth", "Authentication failed"
    ERROR = "error", "Error"


class OrderAttempt(models.Model):
    """One exchange call made for an order: the audit trail of retries."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    action = models.CharField(max_length=20, choices=AttemptAction.choices)
    outcome = models.CharField(max_length=20, choices=AttemptOutcome.choices)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    #: Seconds the exchange asked us to wait (Retry-After), if it did.
    retry_after = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    started_at = models.DateTimeField()
    duration_ms = models.DecimalField(max_digits=12, decimal_places=3)

    class Meta:
        ordering = ["order", "number"]
        constraints = [
            models.UniqueConstraint(fields=["order", "number"], name="attempt_number_unique"),
            _choices_check("action", AttemptAction, "attempt_action_valid"),
            _choices_check("outcome", AttemptOutcome, "attempt_outcome_valid"),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.action}: {self.outcome}"


class Fill(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="fills")
    #: Copied from the order so per-strategy PnL needs no join.
    strategy = models.ForeignKey(
        StrategyConfig, on_delete=models.PROTECT, null=True, blank=True, related_name="fills"
    )
    exchange = models.CharField(max_length=20)
    symbol = models.CharField(max_length=20)
    trade_id = models.CharField(max_length=64)
    side = models.CharField(max_length=4, choices=OrderSide.choices)
    position_side = models.CharField(
        max_length=5, choices=PositionSide.choices, default=PositionSide.BOTH
    )
    price = models.DecimalField(**MONEY)
    quantity = models.DecimalField(**MONEY)
    #: Positive is paid, negative a rebate.
    fee = models.DecimalField(**MONEY, default=Decimal("0"))
    fee_asset = models.CharField(max_length=10, default="USDT")
    #: Gross PnL this fill realised on the position (before its fee), fills applied in
    #: execution order.
    realized_pnl = models.DecimalField(**MONEY, default=Decimal("0"))
    #: What the exchange says it realised, kept to compare with ours (None: not reported).
    exchange_realized_pnl = models.DecimalField(**MONEY, null=True, blank=True)
    is_maker = models.BooleanField(default=False)
    executed_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-executed_at", "-id"]
        indexes = [
            models.Index(fields=["-executed_at", "-id"], name="fill_executed"),
            models.Index(fields=["symbol", "-executed_at"], name="fill_symbol_executed"),
            models.Index(fields=["strategy", "-executed_at"], name="fill_strategy_executed"),
        ]
        constraints = [
            # Trade ids are per symbol on Binance; a fill is recorded once, however many
            # times reconciliation or a retried response reports it.
            models.UniqueConstraint(
                fields=["exchange", "symbol", "trade_id"], name="fill_trade_id_unique"
            ),
            _choices_check("side", OrderSide, "fill_side_valid"),
            _choices_check("position_side", PositionSide, "fill_position_side_valid"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="fill_quantity_positive"),
            models.CheckConstraint(condition=Q(price__gt=0), name="fill_price_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.side} {_plain(self.quantity)} {self.symbol} @ {_plain(self.price)}"

    @property
    def notional(self) -> Decimal:
        return self.price * self.quantity


class PositionBook(models.Model):
    """The running numbers of a position; trading.accounting keeps them."""

    exchange = models.CharField(max_length=20)
    symbol = models.CharField(max_length=20)
    position_side = models.CharField(
        max_length=5, choices=PositionSide.choices, default=PositionSide.BOTH
    )
    #: Signed: positive long, negative short.
    quantity = models.DecimalField(**MONEY, default=Decimal("0"))
    entry_price = models.DecimalField(**MONEY, default=Decimal("0"))
    #: Cumulative, net of fees.
    realized_pnl = models.DecimalField(**MONEY, default=Decimal("0"))
    fees_paid = models.DecimalField(**MONEY, default=Decimal("0"))
    mark_price = models.DecimalField(**MONEY, null=True, blank=True)
    unrealized_pnl = models.DecimalField(**MONEY, default=Decimal("0"))
    marked_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    @property
    def is_flat(self) -> bool:
        return self.quantity == 0

    @property
    def notional(self) -> Decimal:
        return abs(self.quantity) * (self.mark_price or self.entry_price)


class Position(PositionBook):
    """The account's position per symbol and position side, as the fills built it."""

    class Meta:
        ordering = ["symbol", "position_side"]
        constraints = [
            models.UniqueConstraint(
                fields=["exchange", "symbol", "position_side"], name="position_unique"
            ),
            _choices_check("position_side", PositionSide, "position_side_valid"),
            models.CheckConstraint(
                condition=~Q(position_side=PositionSide.LONG) | Q(quantity__gte=0),
                name="position_long_not_negative",
            ),
            models.CheckConstraint(
                condition=~Q(position_side=PositionSide.SHORT) | Q(quantity__lte=0),
                name="position_short_not_positive",
            ),
            models.CheckConstraint(
                condition=Q(entry_price__gte=0), name="position_entry_price_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.position_side} {_plain(self.quantity)}"


class StrategyPosition(PositionBook):
    """One strategy's share of a position: the fills of its own orders only, so PnL can
    be reported per strategy when several trade one symbol."""

    strategy = models.ForeignKey(StrategyConfig, on_delete=models.PROTECT, related_name="positions")

    class Meta:
        ordering = ["strategy", "symbol", "position_side"]
        # Every tick marks the symbol's books to the mid.
        indexes = [models.Index(fields=["exchange", "symbol"], name="strategy_position_symbol")]
        constraints = [
            models.UniqueConstraint(
                fields=["strategy", "exchange", "symbol", "position_side"],
                name="strategy_position_unique",
            ),
            _choices_check("position_side", PositionSide, "strategy_position_side_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.strategy_id}: {self.symbol} {self.position_side} {_plain(self.quantity)}"


class RealizedPnlHour(models.Model):
    """Realised PnL net of fees per exchange and UTC hour, kept with the fills (same
    transaction), so the daily loss guard sums at most 24 rows instead of every fill."""

    exchange = models.CharField(max_length=20)
    hour = models.DateTimeField()
    realized_net = models.DecimalField(**MONEY, default=Decimal("0"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["exchange", "hour"], name="realized_pnl_hour_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.exchange} {self.hour:%Y-%m-%d %H}:00 {self.realized_net}"


class AccountBalance(models.Model):
    """The exchange account's balance in one asset as last read through the exchange
    interface (Exchange.fetch_balance): one row per exchange and asset, replaced on every
    read. Equity moves with prices between reads: the overview adds the positions'
    unrealised PnL, marked every tick, to the wallet balance."""

    exchange = models.CharField(max_length=20)
    asset = models.CharField(max_length=20)
    #: Deposits plus realised PnL net of fees and funding (Binance walletBalance).
    wallet_balance = models.DecimalField(**MONEY)
    #: Wallet balance plus the exchange's unrealised PnL (Binance marginBalance).
    equity = models.DecimalField(**MONEY)
    unrealized_pnl = models.DecimalField(**MONEY, default=Decimal("0"))
    #: Initial margin held by positions and open orders.
    used_margin = models.DecimalField(**MONEY, default=Decimal("0"))
    available = models.DecimalField(**MONEY)
    fetched_at = models.DateTimeField()

    class Meta:
        ordering = ["exchange", "asset"]
        constraints = [
            models.UniqueConstraint(fields=["exchange", "asset"], name="account_balance_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.exchange} {self.asset} {_plain(self.wallet_balance)}"


class ActivityKind(models.TextChoices):
    KILL_SWITCH = "kill_switch", "Kill switch"
    STRATEGY = "strategy", "Strategy"
    RECONCILIATION = "reconciliation", "Reconciliation"


class ActivityEvent(models.Model):
    """Something the desk did by itself or was told to do that no other record keeps
    over time: the kill switch engaged and released, a strategy halting, erroring,
    finishing, pausing and resuming, reconciliation correcting the record. Orders and
    their outcomes (risk refusals included) are their own record; the Activity page
    shows both in one feed (trading.selectors.activity_feed)."""

    at = models.DateTimeField(db_index=True)
    kind = models.CharField(max_length=20, choices=ActivityKind.choices)
    #: info, warning or error: how the feed colours it.
    level = models.CharField(max_length=10, default="info")
    symbol = models.CharField(max_length=20, blank=True)
    strategy = models.ForeignKey(
        StrategyConfig, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    message = models.TextField()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.kind}: {self.message[:60]}"


class TraderHeartbeat(models.Model):
    """Last tick per symbol: what the health check and the dashboard show."""

    symbol = models.CharField(max_length=20, unique=True)
    last_tick_at = models.DateTimeField()
    last_tick_ms = models.DecimalField(max_digits=12, decimal_places=3)
    last_mid = models.DecimalField(**MONEY, null=True, blank=True)
    tick_count = models.PositiveBigIntegerField(default=0)
    #: host:pid of the process that ran the last tick.
    runner = models.CharField(max_length=100, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["symbol"]

    def __str__(self) -> str:
        return f"{self.symbol} @ {self.last_tick_at:%H:%M:%S}"


class MarginMode(models.TextChoices):
    ISOLATED = "isolated", "Isolated"
    CROSS = "cross", "Cross"


class FuturesSettings(models.Model):
    """Leverage and margin mode last applied to a symbol, and the account's position mode."""

    exchange = models.CharField(max_length=20)
    symbol = models.CharField(max_length=20)
    leverage = models.PositiveSmallIntegerField()
    margin_mode = models.CharField(max_length=10, choices=MarginMode.choices)
    hedge_mode = models.BooleanField()
    applied_at = models.DateTimeField()
    #: What the exchange answered to each call (changed, or "no need to change").
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name_plural = "futures settings"
        constraints = [
            models.UniqueConstraint(fields=["exchange", "symbol"], name="futures_settings_unique"),
            models.CheckConstraint(
                condition=Q(leverage__gte=1) & Q(leverage__lte=125), name="futures_leverage_range"
            ),
            _choices_check("margin_mode", MarginMode, "futures_margin_mode_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol}: {self.leverage}x {self.margin_mode}"


class RiskLimits(models.Model):
    """The single row of desk-wide risk limits, editable in admin and through the API."""

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID, editable=False)
    max_order_notional = models.DecimalField(
        **MONEY, help_text="Largest notional (price × quantity) of one order, in USDT."
    )
    max_position_notional = models.DecimalField(
        **MONEY, help_text="Largest absolute position notional per symbol, in USDT."
    )
    daily_loss_limit = models.DecimalField(
        **MONEY,
        help_text="New orders stop when today's realised + unrealised loss reaches this.",
    )
    day_reset_hour_utc = models.PositiveSmallIntegerField(
        default=0, help_text="UTC hour at which the trading day (and its loss) resets."
    )
    kill_switch_engaged = models.BooleanField(default=False)
    kill_switch_reason = models.CharField(max_length=200, blank=True)
    kill_switch_changed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "risk limits"
        verbose_name_plural = "risk limits"
        # Desk-wide permissions (xquant.roles) live on the desk-wide row.
        permissions = [
            ("read_desk", "Can see the desk: dashboard, API reads, live events"),
            ("operate_kill_switch", "Can engage and release the kill switch"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="risk_limits_singleton"),
            models.CheckConstraint(
                condition=Q(max_order_notional__gt=0), name="risk_order_notional_positive"
            ),
            models.CheckConstraint(
                condition=Q(max_position_notional__gt=0), name="risk_position_notional_positive"
            ),
            models.CheckConstraint(
                condition=Q(daily_loss_limit__gt=0), name="risk_daily_loss_positive"
            ),
            models.CheckConstraint(
                condition=Q(day_reset_hour_utc__lte=23), name="risk_reset_hour_valid"
            ),
        ]

    def __str__(self) -> str:
        return "Risk limits"


class ReconcileIssueQuerySet(models.QuerySet):
    def open(self) -> ReconcileIssueQuerySet:
        return self.filter(resolved_at__isnull=True)


class ReconcileIssue(models.Model):
    """Something reconciliation could not settle: an order it could not resolve, a trade
    whose owner the exchange could not name, a symbol whose pass failed. It stays open,
    on the dashboard and in /api/health, until a later pass settles it."""

    exchange = models.CharField(max_length=20)
    symbol = models.CharField(max_length=20)
    #: What it is about: a client order id, "trade-of:<exchange order id>", or "" for
    #: the symbol's pass as a whole.
    subject = models.CharField(max_length=80, blank=True)
    message = models.TextField()
    occurrences = models.PositiveIntegerField(default=1)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    objects = ReconcileIssueQuerySet.as_manager()

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["exchange", "symbol", "subject"],
                condition=Q(resolved_at__isnull=True),
                name="reconcile_issue_open_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.subject or '(symbol)'}: {self.message}"


#: What the audit trail records (AuditEvent.action).
AUDIT_ACTIONS = (
    "order.place",
    "order.cancel",
    "kill_switch.engage",
    "kill_switch.release",
    "risk_limits.update",
    "strategy.create",
    "strategy.update",
    "strategy.toggle",
    "strategy.delete",
    "futures_settings.apply",
    "user.create",
    "user.update",
    "user.delete",
    "user.password",
    "role.create",
    "role.update",
    "role.delete",
)


class AuditEvent(models.Model):
    """One change a person or client made: who, when, from where, what, before and after.

    Append-only: the model refuses updates and deletes, and so does the database (a
    trigger, trading 0009). Written by trading.services.audit.audit_record in the same
    transaction as the change it records."""

    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_events",
    )
    #: Username, "api-token", or "command:<os user>"; kept if the user is renamed.
    actor_name = models.CharField(max_length=150)
    #: session, token (a user's DRF token), api-token (API_TOKEN), admin, command.
    channel = models.CharField(max_length=20)
    ip = models.GenericIPAddressField(null=True, blank=True)
    #: Which credential: a digest prefix of the session key or token, never the secret.
    credential = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=40, db_index=True)
    #: What was changed, e.g. "order 42", "strategy 7", "risk limits", "user 3".
    target = models.CharField(max_length=100, blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["actor_name", "-at"], name="audit_actor_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name} {self.action} {self.target}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("audit events are append-only")
