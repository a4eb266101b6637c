from __future__ import annotations

import pytest
from rest_framework.test import APIClient

API_TOKEN = "desk-token-0123456789"


@pytest.fixture
def api_token(settings):
    """The desk's API_TOKEN, configured with the admin role (the role tests check what
    lesser roles are refused)."""
    settings.API_TOKEN = API_TOKEN
    settings.API_TOKEN_ROLE = "admin"
    return API_TOKEN


@pytest.fixture
def api(db, api_token):
    """A machine client authenticated with the desk's bearer API_TOKEN."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token}")
    return client


def error_fields(response) -> dict[str, list[str]]:
    body = response.json()
    assert set(body) <= {"code", "message", "fields"}, body
    assert body["message"], body
    return body.get("fields", {})
