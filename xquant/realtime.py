"""Publishing live events to the dashboard through the Channels layer.

Services call `publish(group, event)`; consumers join groups and forward events. The
payload is a plain dict that must be JSON-serialisable (Decimals become strings).
Publishing is best-effort: a dashboard that misses an event re-reads the database on
reconnect, so a broken channel layer must never fail a trade.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder

logger = logging.getLogger(__name__)

#: Group every dashboard page joins.
DASHBOARD_GROUP = "dashboard"


def symbol_group(symbol: str) -> str:
    return f"symbol.{symbol}"


def publish(group: str, event_type: str, payload: dict[str, Any]) -> None:
    """Send `{type: "xquant.event", event: event_type, data: payload}` to a group."""
    layer = get_channel_layer()
    if layer is None:
        return
    # Round-trip through JSON so that consumers receive plain strings, not Decimals,
    # and so that an unserialisable payload fails here, loudly, in tests.
    data = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    message = {"type": "xquant.event", "event": event_type, "data": data}
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:
        logger.warning("could not publish %s event to group %s", event_type, group, exc_info=True)
