"""Who is sending an order, and until when.

An order in flight (PENDING being claimed, or SUBMITTING) belongs to the thread sending
it: `claimed_by` names it (host|pid|thread) and `lease_until` bounds it. Reconciliation
and any other process leave a leased order alone, so the trader's start-up pass never
looks up and settles an order the web API or a worker is still sending. A lease ends
when it runs out, when its sender returns with the order still unsettled (it leaves it
to a later pass), or at once when its holder was a process on this host that no longer
runs (a killed trader restarting).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from trading.locks import holder_is_gone, holder_token
from trading.models import Order, OrderStatus

#: Longer than one send with its lookups; every attempt renews it.
LEASE = timedelta(seconds=120)

IN_FLIGHT = (OrderStatus.PENDING, OrderStatus.SUBMITTING)


def lease_fields(now: datetime) -> dict:
    """The columns that give this thread the lease from `now` (for the claiming write)."""
    return {"claimed_by": holder_token(), "lease_until": now + LEASE}


def lease_take(*, order: Order) -> bool:
    """Take the order's lease for this thread unless someone else holds a live one."""
    now = timezone.now()
    me = holder_token()
    free = Q(claimed_by="") | Q(claimed_by=me) | Q(lease_until__isnull=True)
    free |= Q(lease_until__lt=now)
    holder = order.claimed_by
    if holder and holder != me and holder_is_gone(holder):
        free |= Q(claimed_by=holder)
    taken = Order.objects.filter(free, pk=order.pk).update(**lease_fields(now))
    if taken:
        order.claimed_by, order.lease_until = me, now + LEASE
    return bool(taken)


def lease_release(*, order: Order) -> None:
    """The sender is done with an order it leaves unsettled: anyone may settle it now."""
    if order.status in IN_FLIGHT and order.claimed_by == holder_token():
        Order.objects.filter(pk=order.pk, claimed_by=order.claimed_by).update(
            claimed_by="", lease_until=None
        )
        order.claimed_by, order.lease_until = "", None


def lease_is_held_elsewhere(order: Order, now: datetime) -> bool:
    """Another live sender holds the order (reconciliation leaves it to them)."""
    holder = order.claimed_by
    return bool(
        holder
        and holder != holder_token()
        and order.lease_until is not None
        and order.lease_until > now
        and not holder_is_gone(holder)
    )
