"""The error base every xQuant layer raises, and the subclasses callers act on.

A message says what was wrong and what is allowed ("quantity 0.0004 is below the
minimum 0.001 for BTCUSDT"), because it reaches traders through the API, the dashboard
and the order record unchanged. `code` is a stable machine-readable identifier;
`extra` carries structured details (field errors, exchange codes, retry delays).
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    code = "error"
    #: HTTP status the API renders this error with.
    http_status = 400

    def __init__(
        self, message: str, *, code: str | None = None, extra: dict[str, Any] | None = None
    ):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.extra = extra or {}

    def __str__(self) -> str:
        return self.message


class ValidationError(ApplicationError):
    """Input that can never be accepted as given; `extra["fields"]` maps field to messages."""

    code = "invalid"
    http_status = 400


class NotFoundError(ApplicationError):
    code = "not_found"
    http_status = 404


class ConflictError(ApplicationError):
    """The request is valid but the current state forbids it (e.g. cancel a filled order)."""

    code = "conflict"
    http_status = 409


class RetryableError(ApplicationError):
    """A transient failure: the same call may succeed later."""

    code = "retryable"
    http_status = 503
