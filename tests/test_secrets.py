"""Secrets from the environment never reach logs, error pages or admin pages."""

from __future__ import annotations

import io
import logging
import sys

import pytest
from django.test import RequestFactory
from django.views.debug import technical_500_response

from xquant.secrets import REDACTED, RedactSecretsFilter

API_SECRET = "s3cr3t-exchange-secret-value"
API_KEY = "exchange-key-value-42"
TOKEN = "api-token-value-777"


@pytest.fixture(autouse=True)
def secrets(settings):
    settings.EXCHANGE_API_SECRET = API_SECRET
    settings.EXCHANGE_API_KEY = API_KEY
    settings.API_TOKEN = TOKEN


def _logged(*args, exc: bool = False) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecretsFilter())
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("tests.secrets")
    logger.addHandler(handler)
    try:
        if exc:
            try:
                raise RuntimeError(f"signature failed for key {API_KEY}")
            except RuntimeError:
                logger.exception(*args)
        else:
            logger.warning(*args)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_log_messages_and_arguments_are_redacted():
    out = _logged("calling exchange with secret=%s token=%s", API_SECRET, TOKEN)
    assert API_SECRET not in out and TOKEN not in out
    assert out.count(REDACTED) == 2


def test_tracebacks_in_logs_are_redacted():
    out = _logged("order failed", exc=True)
    assert "RuntimeError" in out
    assert API_KEY not in out


def test_debug_error_page_hides_secrets_in_locals_messages_and_headers():
    request = RequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    config = {"apiKey": API_KEY, "secret": API_SECRET}  # noqa: F841 - shown as a frame local
    try:
        raise ValueError(f"exchange said no to {API_KEY}")
    except ValueError:
        response = technical_500_response(request, *sys.exc_info())
    page = response.content.decode()
    assert "ValueError" in page
    for secret in (API_KEY, API_SECRET, TOKEN):
        assert secret not in page


def test_admin_pages_do_not_show_secrets(staff_client):
    for url in ["/admin/", "/admin/trading/strategyconfig/", "/admin/trading/risklimits/"]:
        response = staff_client.get(url, follow=True)
        assert response.status_code == 200
        page = response.content.decode()
        assert API_SECRET not in page and API_KEY not in page and TOKEN not in page
