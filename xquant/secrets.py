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
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

REDACTED = "********"
# Shorter values are too likely to occur by chance in ordinary text.
_MIN_SECRET_LENGTH = 6


#: Settings holding URLs whose password is a secret (redis://:password@host/0).
URL_SETTING_NAMES = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "EXCHANGE_BASE_URL",
    "PREDICTION_API_BASE_URL",
)
# The password part of any URL with credentials, whatever its length: scheme://user:PASS@
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@'\"<>]*:)([^\s@/'\"<>]+)(@)", re.I)


def _url_passwords() -> Iterable[str]:
    for name in URL_SETTING_NAMES:
        try:
            password = urlsplit(getattr(settings, name, "") or "").password
        except ValueError:
            continue
        if password:
            yield password
            yield quote(password, safe="")


def secret_values() -> list[str]:
    """The configured secret values, longest first so overlapping ones redact fully."""
    values: list[str] = [
        getattr(settings, name, "") or "" for name in settings.SECRET_SETTING_NAMES
    ]
    values += _url_passwords()
    return sorted({v for v in values if len(v) >= _MIN_SECRET_LENGTH}, key=len, reverse=True)


def redact(text: str) -> str:
    text = _URL_PASSWORD.sub(rf"\g<1>{REDACTED}\g<3>", text)
    for value in secret_values():
        if value in text:
            text = text.replace(value, REDACTED)
    return text


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\u2028\u2029]")


def escape_controls(text: str) -> str:
    """Line breaks and other control characters as visible escapes: text a user typed
    (a kill-switch reason, a strategy name) cannot start a forged log line."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


class RedactSecretsFilter(logging.Filter):
    """Rewrites each log record so that no secret value survives formatting, and no
    control character in its message (one line per record; tracebacks are separate)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's business
            return True
        cleaned = escape_controls(redact(message))
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
