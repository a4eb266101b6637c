"""Publishing live events to the dashboard through the Channels layer.

Services call `publish(group, event_type, payload)`; consumers join groups and forward
events. The payload must be JSON-serialisable (Decimals become strings).

Publishing is best-effort and never slows or fails a trade: a page that misses an event
re-reads the database when it reconnects.
- With the Redis layer, events go through one background event loop per process, in
  order, so the layer keeps its Redis connections (calling it through async_to_sync from
  a plain thread would open a new connection per event).
- The in-memory layer (embedded mode) only reaches consumers on the loop that serves the
  websockets: `serve` binds that loop here, and events published from any other thread
  (the trader, a backtest) are handed to it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder

logger = logging.getLogger(__name__)

#: Group every dashboard page joins.
DASHBOARD_GROUP = "dashboard"
#: Events waiting for the Redis layer beyond this are dropped (and logged): a stalled
#: Redis must not make the trader's memory grow.
MAX_QUEUED = 10_000


def symbol_group(symbol: str) -> str:
    return f"symbol.{symbol}"


class _BackgroundPublisher:
    """A daemon thread running an event loop that sends queued events one by one."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.queue: asyncio.Queue[tuple[Any, str, dict]] | None = None
        ready = threading.Event()
        self.thread = threading.Thread(
            target=self._run, args=(ready,), name="realtime-publisher", daemon=True
        )
        self.thread.start()
        ready.wait()

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.queue = asyncio.Queue()
        self.loop.create_task(self._drain())
        ready.set()
        self.loop.run_forever()

    async def _drain(self) -> None:
        while True:
            layer, group, message = await self.queue.get()
            try:
                await layer.group_send(group, message)
            except Exception:
                logger.warning(
                    "could not publish %s to group %s", message.get("event"), group, exc_info=True
                )

    def submit(self, layer, group: str, message: dict) -> None:
        if self.queue.qsize() >= MAX_QUEUED:
            logger.warning("realtime queue full; dropping %s event", message.get("event"))
            return
        self.loop.call_soon_threadsafe(self.queue.put_nowait, (layer, group, message))

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything queued so far was sent (tests, shutdown)."""
        future = asyncio.run_coroutine_threadsafe(self._wait_empty(), self.loop)
        future.result(timeout)

    async def _wait_empty(self) -> None:
        while not self.queue.empty():
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.005)  # the last one may still be in flight


_server_loop: asyncio.AbstractEventLoop | None = None


def bind_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    """The event loop serving the websockets (embedded mode's in-memory channel layer)."""
    global _server_loop
    _server_loop = loop


def _on_server_loop() -> bool:
    try:
        return asyncio.get_running_loop() is _server_loop
    except RuntimeError:
        return False


_publisher: _BackgroundPublisher | None = None
_publisher_lock = threading.Lock()


def _background() -> _BackgroundPublisher:
    global _publisher
    # A forked child (Celery prefork) inherits the object but not its thread.
    if _publisher is None or _publisher.pid != os.getpid():
        with _publisher_lock:
            if _publisher is None or _publisher.pid != os.getpid():
                _publisher = _BackgroundPublisher()
    return _publisher


def publish(group: str, event_type: str, payload: dict[str, Any]) -> None:
    """Send `{type: "xquant.event", event: event_type, data: payload}` to a group."""
    layer = get_channel_layer()
    if layer is None:
        return
    # Round-trip through JSON so that consumers receive plain strings, not Decimals,
    # and so that an unserialisable payload fails here, loudly, in tests.
    data = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    message = {"type": "xquant.event", "event": event_type, "data": data}
    if not isinstance(layer, InMemoryChannelLayer):
        _background().submit(layer, group, message)
        return
    if _server_loop is not None and _server_loop.is_running() and not _on_server_loop():
        asyncio.run_coroutine_threadsafe(layer.group_send(group, message), _server_loop)
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:
        logger.warning("could not publish %s event to group %s", event_type, group, exc_info=True)


def flush(timeout: float = 5.0) -> None:
    """Block until queued events have been handed to the channel layer."""
    if _publisher is not None and _publisher.pid == os.getpid():
        _publisher.flush(timeout)
