"""Recording what the desk did by itself or was told to do (trading.models.ActivityEvent)
and telling the pages. Never in the way of trading: a failure to record is logged."""

from __future__ import annotations

import logging

from django.utils import timezone

from trading.events import ActivityCreated, publish
from trading.models import ActivityEvent, StrategyConfig

logger = logging.getLogger("trading.activity")


def activity_record(
    *,
    kind: str,
    message: str,
    level: str = "info",
    symbol: str = "",
    strategy: StrategyConfig | None = None,
) -> ActivityEvent | None:
    try:
        event = ActivityEvent.objects.create(
            at=timezone.now(),
            kind=kind,
            level=level,
            symbol=symbol,
            strategy=strategy,
            message=message,
        )
    except Exception:
        logger.warning("could not record activity %s: %s", kind, message, exc_info=True)
        return None
    publish(ActivityCreated(event))
    return event
