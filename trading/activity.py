"""The Activity page's feed: one time-ordered list of what happened and why, from the
orders (and their outcomes: fills, cancels, refusals by a risk guard or the exchange)
and the events no other record keeps over time (trading.models.ActivityEvent: kill
switch, strategies stopping, pausing and resuming, reconciliation findings). Reads only.
Who changed settings by hand is the audit trail's (a separate record)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import F
from django.urls import reverse

from trading.models import ActivityEvent, Order, OrderStatus

#: Filter values of the page, in its order: (value, label).
KINDS = [
    ("order", "Orders"),
    ("risk", "Risk refusals"),
    ("kill_switch", "Kill switch"),
    ("strategy", "Strategies"),
    ("reconciliation", "Reconciliation"),
]
FEED_LIMIT = 200


@dataclass(frozen=True)
class FeedItem:
    at: datetime
    kind: str
    #: info, warning or error.
    level: str
    symbol: str
    strategy_id: int | None
    strategy_name: str
    message: str
    #: The page with the details (an order's, a strategy's), if any.
    url: str = ""


def _order_item(order: Order) -> FeedItem:
    risk = order.error_code.startswith("risk.")
    price = f" @ {order.price.normalize():f}" if order.price is not None else ""
    what = f"{order.side} {order.quantity.normalize():f} {order.symbol} {order.order_type}{price}"
    outcome = order.get_status_display().lower()
    if order.filled_quantity and order.average_price:
        outcome += f" {order.filled_quantity.normalize():f} @ {order.average_price.normalize():f}"
    why = f" ({order.reason})" if order.reason else ""
    text = f"{what}{why}: {outcome}"
    if order.error_message:
        text += f" — {order.error_code + ': ' if order.error_code else ''}{order.error_message}"
    # A risk guard refusing is the desk's rules working; the exchange refusing is not.
    level = "info"
    if order.status == OrderStatus.REJECTED:
        level = "warning" if risk else "error"
    return FeedItem(
        at=order.created_at,
        kind="risk" if risk else "order",
        level=level,
        symbol=order.symbol,
        strategy_id=order.strategy_id,
        strategy_name=order.strategy_name or "",
        message=text,
        url=reverse("trading:order", args=[order.pk]),
    )


def _event_item(event: ActivityEvent) -> FeedItem:
    return FeedItem(
        at=event.at,
        kind=event.kind,
        level=event.level,
        symbol=event.symbol,
        strategy_id=event.strategy_id,
        strategy_name=event.strategy.name if event.strategy else "",
        message=event.message,
        url=reverse("trading:strategy", args=[event.strategy_id]) if event.strategy_id else "",
    )


def activity_feed(
    *,
    kind: str | None = None,
    symbol: str | None = None,
    strategy_id: int | None = None,
    limit: int = FEED_LIMIT,
) -> list[FeedItem]:
    """The latest `limit` items, newest first."""
    items: list[FeedItem] = []
    if kind in (None, "order", "risk"):
        orders = Order.objects.annotate(strategy_name=F("strategy__name")).order_by(
            "-created_at", "-id"
        )
        if kind == "risk":
            orders = orders.filter(error_code__startswith="risk.")
        elif kind == "order":
            orders = orders.exclude(error_code__startswith="risk.")
        if symbol:
            orders = orders.filter(symbol=symbol)
        if strategy_id is not None:
            orders = orders.filter(strategy_id=strategy_id)
        items += [_order_item(order) for order in orders[:limit]]
    if kind not in ("order", "risk"):
        events = ActivityEvent.objects.select_related("strategy").order_by("-at", "-id")
        if kind:
            events = events.filter(kind=kind)
        if symbol:
            events = events.filter(symbol=symbol)
        if strategy_id is not None:
            events = events.filter(strategy_id=strategy_id)
        items += [_event_item(event) for event in events[:limit]]
    return sorted(items, key=lambda item: item.at, reverse=True)[:limit]
