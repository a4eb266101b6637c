"""GET /api/ answers with where the endpoints are, in JSON (it was an HTML 404)."""

from __future__ import annotations

import pytest
from django.urls import resolve
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_api_root_lists_the_entry_points_as_absolute_urls(user):
    client = APIClient()
    client.force_authenticate(user)
    response = client.get("/api/")
    assert response.status_code == 200
    body = response.json()
    assert body["orders"] == "http://testserver/api/orders"
    assert body["health"] == "http://testserver/api/health"
    assert body["docs"] == "http://testserver/api/docs/"
    for url in body.values():  # every one of them exists (some want parameters)
        path = url.removeprefix("http://testserver")
        assert resolve(path).url_name not in (None, "api-root"), path


def test_api_root_refuses_anonymous_callers_in_json():
    response = APIClient().get("/api/")
    assert response.status_code in (401, 403)
    assert response["Content-Type"].startswith("application/json")
