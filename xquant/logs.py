"""Log context and the JSON log format (LOG_FORMAT=json).

Context (symbol, strategy, order id, client order id, request id, user) is kept in a
contextvar for as long as a tick, an order submission or a request runs, and every log
record made meanwhile carries it (`LogContextFilter`). With LOG_FORMAT=json each record
is one JSON object per line (python-json-logger); the text format stays the default.
Secret values are scrubbed from the finished line, whatever field they hide in.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from django.utils.functional import empty
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from xquant.secrets import redact

#: The fields a record may carry, in the order a JSON line shows them.
CONTEXT_FIELDS = ("symbol", "strategy", "order_id", "client_order_id", "request_id", "user")

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "xquant_log_context", default=None
)


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add fields to the context of every record logged inside the block."""
    token = _context.set(
        {**(_context.get() or {}), **{k: v for k, v in fields.items() if v is not None}}
    )
    try:
        yield
    finally:
        _context.reset(token)


def context_of(value: Any) -> dict[str, Any]:
    """The context fields of an order or a strategy config."""
    from trading.models import Order, StrategyConfig

    if isinstance(value, Order):
        return {
            "symbol": value.symbol,
            "order_id": value.pk,
            "client_order_id": value.client_order_id,
            "strategy": value.strategy_id,
        }
    if isinstance(value, StrategyConfig):
        return {"symbol": value.symbol, "strategy": value.name}
    return {}


def with_log_context(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Runs a function with its keyword arguments `names` in the log context: a string
    under its own name, an order or strategy as its fields."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def logged(*args: Any, **kwargs: Any) -> Any:
            fields: dict[str, Any] = {}
            for name in names:
                value = kwargs.get(name)
                fields.update({name: value} if isinstance(value, str) else context_of(value))
            with log_context(**fields):
                return fn(*args, **kwargs)

        return logged

    return decorate


def _username(request: Any) -> str | None:
    # Read without evaluating a lazy user (evaluating may log, and land here again):
    # the middleware has evaluated Django's; DRF puts the user it authenticated there.
    user = request.__dict__.get("user")
    if user is None or getattr(user, "_wrapped", None) is empty:
        return None
    return user.get_username() if user.is_authenticated else None


class LogContextFilter(logging.Filter):
    """Puts the current context on each record (an explicit `extra=` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get() or {}
        for key, value in context.items():
            if key == "request":
                if not hasattr(record, "user") and (username := _username(value)):
                    record.user = username
            elif not hasattr(record, key):
                setattr(record, key, value)
        return True


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: timestamp, level, logger, message, then the context
    fields and any `extra=`; secret values redacted from the whole line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", True)
        super().__init__("%(levelname)s %(name)s %(message)s", *args, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RequestLogContextMiddleware:
    """A request id (the client's X-Request-ID, else a new one) and the user, in the log
    context of everything the request logs; the id is echoed in the response."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request):
        request_id = request.headers.get("X-Request-ID", "")[:64] or uuid.uuid4().hex
        # The user is read when a line is logged: the session's, or the one DRF
        # authenticated by token once the view runs.
        user = getattr(request, "user", None)
        if user is not None:
            user.is_authenticated  # noqa: B018 (evaluates the lazy session user now)
        with log_context(request_id=request_id, request=request):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
