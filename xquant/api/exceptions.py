"""One JSON error shape for the whole API:

    {"code": "invalid", "message": "quantity: must be positive.", "fields": {"quantity": ["..."]}}

`code` is stable and machine-readable, `message` is for a person, `fields` (optional)
maps each bad input field to its messages.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from xquant.errors import ApplicationError

logger = logging.getLogger(__name__)


def _messages(detail: Any) -> list[str]:
    if isinstance(detail, dict):
        return [m for key, value in detail.items() for m in _prefixed(key, value)]
    if isinstance(detail, list):
        return [m for item in detail for m in _messages(item)]
    return [str(detail)]


def _prefixed(key: str, value: Any) -> list[str]:
    if isinstance(value, dict):
        return [f"{key}.{m}" for m in _messages(value)]
    return [f"{key}: {m}" for m in _messages(value)]


def _field_errors(detail: Any) -> dict[str, list[str]]:
    if not isinstance(detail, dict):
        return {"non_field_errors": _messages(detail)}
    fields: dict[str, list[str]] = {}
    for key, value in detail.items():
        if isinstance(value, dict):
            for sub_key, sub_messages in _field_errors(value).items():
                fields[f"{key}.{sub_key}"] = sub_messages
        else:
            fields[key] = _messages(value)
    return fields


def error_body(
    code: str, message: str, fields: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return body


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    headers: dict[str, str] = {}
    if isinstance(exc, ApplicationError):
        set_rollback()
        fields = exc.extra.get("fields")
        body = error_body(exc.code, exc.message, fields)
        retry_after = exc.extra.get("retry_after") or getattr(exc, "retry_after", None)
        if retry_after:
            headers["Retry-After"] = str(int(retry_after + 0.999))
        return Response(body, status=exc.http_status, headers=headers)

    if isinstance(exc, RequestDataTooBig):
        from xquant.api.views import too_large

        return too_large(context["request"])
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    if not isinstance(exc, exceptions.APIException):
        # Let DRF/Django render it as a 500 (and log it): an unexpected error is a bug.
        return None

    set_rollback()
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))

    if isinstance(exc, exceptions.ValidationError):
        fields = _field_errors(exc.detail)
        message = "; ".join(
            m
            for name, ms in fields.items()
            for m in ((f"{name}: {x}" if name != "non_field_errors" else x) for x in ms)
        )
        body = error_body("invalid", message or "Invalid input.", fields)
    elif isinstance(exc, exceptions.ParseError):
        body = error_body("malformed_request", f"Malformed request body: {exc.detail}")
    else:
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        body = error_body(code, " ".join(_messages(exc.detail)))
    return Response(body, status=exc.status_code or status.HTTP_400_BAD_REQUEST, headers=headers)
