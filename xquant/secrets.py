"""Keeping secrets (API keys, tokens, SECRET_KEY) out of logs and error pages.

Django's SafeExceptionReporterFilter hides settings whose *names* look secret. That is
not enough for a trading system: a key can also sit in a local variable, a request
header or an exception message (ccxt puts request details in its errors). So the
filters here scrub the secret *values* wherever they appear.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from django.conf import settings
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

REDACTED = "********"
# Shorter values are too likely to occur by chance in ordinary text.
_MIN_SECRET_LENGTH = 6


def secret_values() -> list[str]:
    """The configured secret values, longest first so overlapping ones redact fully."""
    values: Iterable[str] = (
        getattr(settings, name, "") or "" for name in settings.SECRET_SETTING_NAMES
    )
    return sorted({v for v in values if len(v) >= _MIN_SECRET_LENGTH}, key=len, reverse=True)


def redact(text: str) -> str:
    for value in secret_values():
        if value in text:
            text = text.replace(value, REDACTED)
    return text


class RedactSecretsFilter(logging.Filter):
    """Rewrites each log record so that no secret value survives formatting."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's business
            return True
        cleaned = redact(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


class SecretScrubbingExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's name-based filter, also covering connection URLs (they hold passwords)."""

    hidden_settings = re.compile(
        r"API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|DATABASE_URL|REDIS_URL", flags=re.I
    )

    def get_safe_request_meta(self, request):
        meta = super().get_safe_request_meta(request)
        if "HTTP_AUTHORIZATION" in meta:
            meta["HTTP_AUTHORIZATION"] = self.cleansed_substitute
        return meta


class RedactingExceptionReporter(ExceptionReporter):
    """Scrubs secret values from the rendered error page and error e-mail.

    Redacting the final text catches a secret wherever it hides: a local variable, the
    repr of a client object, an exception message.
    """

    def get_traceback_html(self):
        return redact(str(super().get_traceback_html()))

    def get_traceback_text(self):
        return redact(str(super().get_traceback_text()))
