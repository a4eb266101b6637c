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
import collections
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
#: How long the Redis publisher gathers events before sending them together (seconds).
BATCH_WINDOW = 0.02


def symbol_group(symbol: str) -> str:
    return f"symbol.{symbol}"


class _BackgroundPublisher:
    """A daemon thread running an event loop that sends queued events in order.

    Events published within a short window travel as one `xquant.batch` message per
    group: a group_send costs two Redis requests and a fraction of a millisecond of
    this process's CPU whatever it carries, and a busy trader publishes a price and its
    positions every tick of every symbol. Consumers forward a batch's events one by one,
    so pages see the same stream, at most BATCH_WINDOW later."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.pending: collections.deque[tuple[Any, str, dict]] = collections.deque()
        self.wake_pending = False
        self.sending = False
        self.wakeup: asyncio.Event | None = None
        ready = threading.Event()
        self.thread = threading.Thread(
            target=self._run, args=(ready,), name="realtime-publisher", daemon=True
        )
        self.thread.start()
        ready.wait()

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.wakeup = asyncio.Event()
        self.loop.create_task(self._drain())
        ready.set()
        self.loop.run_forever()

    async def _drain(self) -> None:
        while True:
            await self.wakeup.wait()
            self.sending = True
            await asyncio.sleep(BATCH_WINDOW)
            # Clear before taking: an event queued after this line wakes us again.
            self.wakeup.clear()
            self.wake_pending = False
            taken = [self.pending.popleft() for _ in range(len(self.pending))]
            for layer, group, message in _batched(taken):
                try:
                    await layer.group_send(group, message)
                except Exception:
                    logger.warning(
                        "could not publish %s to group %s",
                        message.get("event", "a batch"),
                        group,
                        exc_info=True,
                    )
            self.sending = bool(self.pending)

    def submit(self, layer, group: str, message: dict) -> None:
        if len(self.pending) >= MAX_QUEUED:
            logger.warning("realtime queue full; dropping %s event", message.get("event"))
            return
        self.pending.append((layer, group, message))
        if not self.wake_pending:
            self.wake_pending = True
            self.loop.call_soon_threadsafe(self.wakeup.set)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything queued so far was sent (tests, shutdown)."""
        future = asyncio.run_coroutine_threadsafe(self._wait_empty(), self.loop)
        future.result(timeout)

    async def _wait_empty(self) -> None:
        while self.pending or self.sending or self.wakeup.is_set():
            await asyncio.sleep(0.005)


def _batched(taken: list[tuple[Any, str, dict]]) -> list[tuple[Any, str, dict]]:
    """Consecutive events for the same layer and group as one message, order kept."""
    runs: list[tuple[Any, str, list[dict]]] = []
    for layer, group, message in taken:
        if runs and runs[-1][0] is layer and runs[-1][1] == group:
            runs[-1][2].append(message)
        else:
            runs.append((layer, group, [message]))
    return [
        (layer, group, messages[0] if len(messages) == 1 else _batch_message(messages))
        for layer, group, messages in runs
    ]


def _batch_message(messages: list[dict]) -> dict:
    return {
        "type": "xquant.batch",
        "events": [{"event": m["event"], "data": m["data"]} for m in messages],
    }


def events_of(message: dict) -> list[dict]:
    """The {event, data} events a channel-layer message carries (one, or a batch)."""
    if message["type"] == "xquant.batch":
        return message["events"]
    return [{"event": message["event"], "data": message["data"]}]


#: Close code for a logged-in user whose role may not read the desk (xquant.roles).
FORBIDDEN = 4403


async def may_read_desk(user: Any) -> bool:
    """Whether a websocket's user may receive the desk's events (READ_DESK)."""
    from channels.db import database_sync_to_async

    from xquant.roles import READ_DESK

    return await database_sync_to_async(user.has_perm)(READ_DESK)


class EventForwarding:
    """Consumer methods forwarding published events to the websocket, one frame each."""

    async def xquant_event(self, message: dict) -> None:
        await self.send_json({"event": message["event"], "data": message["data"]})

    async def xquant_batch(self, message: dict) -> None:
        for event in message["events"]:
            await self.send_json(event)


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


class SameOriginValidator:
    """A browser's websocket must come from a page of this very site: its Origin's host
    *and port* are the Host it connects to (or an origin in CSRF_TRUSTED_ORIGINS, for a
    site behind a proxy). ALLOWED_HOSTS alone (Channels' check) ignores the port, so a
    page on another port of the same host could open the desk's socket."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not self.allowed(scope):
            from channels.security.websocket import WebsocketDenier

            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)

    @staticmethod
    def allowed(scope: dict) -> bool:
        from urllib.parse import urlsplit

        from django.conf import settings

        headers = dict(scope.get("headers") or [])
        origin = headers.get(b"origin", b"").decode("latin1")
        if not origin:
            return True  # not a browser: ALLOWED_HOSTS and the login still apply
        if origin in settings.CSRF_TRUSTED_ORIGINS:
            return True
        try:
            parts = urlsplit(origin)
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return False
        default_port = 443 if parts.scheme == "https" else 80
        origin_host = f"{parts.hostname}:{parts.port or default_port}"
        host = headers.get(b"host", b"").decode("latin1")
        try:
            target = urlsplit(f"//{host}")
            target_host = f"{target.hostname}:{target.port or default_port}"
        except ValueError:
            return False
        return bool(host) and origin_host == target_host
