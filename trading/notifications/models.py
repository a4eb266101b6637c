"""Where the desk's notifications go (apprise URLs) and what waits to be sent."""

from __future__ import annotations

from django.db import models


class EventKind(models.TextChoices):
    FILL = "fill", "Fill"
    ORDER_REJECTED = "order_rejected", "Order rejected by the exchange"
    RISK_TRIPPED = "risk_tripped", "Risk guard tripped"
    KILL_SWITCH = "kill_switch", "Kill switch engaged or released"
    STRATEGY_ERRORED = "strategy_errored", "Strategy errored or halted"
    TRADER_STALE = "trader_stale", "Trader stale (no recent tick)"
    RECONCILE_ATTENTION = "reconcile_attention", "Reconciliation needs attention"
    STREAM_DOWN = "stream_down", "Exchange stream down (ticks poll REST)"
    DAILY_SUMMARY = "daily_summary", "Daily summary"
    TEST = "test", "Test message"


class NotificationTarget(models.Model):
    """One destination, as an apprise URL (json://, slack://, tgram://, mailto://, ...).

    The URL usually holds a token or password: it is never rendered again once saved
    (the admin shows `redacted_url`) and never logged; logs name the target instead."""

    name = models.CharField(max_length=100, unique=True)
    url = models.TextField(help_text="An apprise URL; kept secret once saved.")
    #: The EventKind values this target receives.
    kinds = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=True)
    #: At most one message per this many seconds; what comes meanwhile is one digest.
    min_interval_seconds = models.PositiveIntegerField(default=30)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def redacted_url(self) -> str:
        from trading.notifications.delivery import redacted_url

        return redacted_url(self.url)


class PendingNotice(models.Model):
    """A notice gathered for a target until its next send (one message or a digest)."""

    target = models.ForeignKey(NotificationTarget, on_delete=models.CASCADE, related_name="pending")
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.title}"
