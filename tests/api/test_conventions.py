"""API conventions every endpoint shares: bearer/session/token auth and one error shape."""

from __future__ import annotations

import pytest
from rest_framework import exceptions
from rest_framework.authtoken.models import Token

from xquant.api.exceptions import api_exception_handler
from xquant.errors import ConflictError, NotFoundError, ValidationError

pytestmark = pytest.mark.django_db

SCHEMA = "/api/schema/"


@pytest.fixture
def api_token(settings):
    settings.API_TOKEN = "desk-token-0123456789"
    return settings.API_TOKEN


def test_anonymous_request_is_refused_with_401_and_the_error_shape(client):
    response = client.get(SCHEMA, HTTP_ACCEPT="application/json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json() == {
        "code": "not_authenticated",
        "message": "Authentication credentials were not provided.",
    }


def test_api_token_is_accepted_as_bearer(client, api_token):
    response = client.get(SCHEMA, HTTP_AUTHORIZATION=f"Bearer {api_token}")
    assert response.status_code == 200


def test_wrong_bearer_token_is_refused(client, api_token):
    response = client.get(
        SCHEMA, HTTP_AUTHORIZATION="Bearer not-the-token", HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_empty_api_token_setting_disables_bearer_api_token(client, settings):
    settings.API_TOKEN = ""
    assert client.get(SCHEMA, HTTP_AUTHORIZATION="Bearer ").status_code == 401


def test_named_user_drf_token_works_as_bearer_and_as_token(client, user):
    token = Token.objects.create(user=user)
    assert client.get(SCHEMA, HTTP_AUTHORIZATION=f"Bearer {token.key}").status_code == 200
    assert client.get(SCHEMA, HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 200


def test_logged_in_session_is_accepted(client, user):
    client.force_login(user)
    assert client.get(SCHEMA).status_code == 200


def test_swagger_ui_is_served_without_a_cdn(client, user):
    client.force_login(user)
    page = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in page
    assert "cdn" not in page.lower()


@pytest.mark.parametrize(
    ("exc", "status", "body"),
    [
        (
            ValidationError(
                "quantity 0 must be positive", extra={"fields": {"quantity": ["Must be positive."]}}
            ),
            400,
            {
                "code": "invalid",
                "message": "quantity 0 must be positive",
                "fields": {"quantity": ["Must be positive."]},
            },
        ),
        (
            NotFoundError("order 9 does not exist"),
            404,
            {"code": "not_found", "message": "order 9 does not exist"},
        ),
        (
            ConflictError("order 9 is filled"),
            409,
            {"code": "conflict", "message": "order 9 is filled"},
        ),
        (
            exceptions.ValidationError(
                {"symbol": ["Unknown symbol."], "params": {"slices": ["Too small."]}}
            ),
            400,
            {
                "code": "invalid",
                "message": "symbol: Unknown symbol.; params.slices: Too small.",
                "fields": {"symbol": ["Unknown symbol."], "params.slices": ["Too small."]},
            },
        ),
        (
            exceptions.ParseError("JSON parse error - Expecting value"),
            400,
            {
                "code": "malformed_request",
                "message": "Malformed request body: JSON parse error - Expecting value",
            },
        ),
        (
            exceptions.MethodNotAllowed("PUT"),
            405,
            {"code": "method_not_allowed", "message": 'Method "PUT" not allowed.'},
        ),
    ],
)
def test_every_error_renders_in_one_shape(exc, status, body):
    response = api_exception_handler(exc, {})
    assert response.status_code == status
    assert response.data == body


def test_unexpected_exceptions_are_left_to_the_500_handler():
    assert api_exception_handler(RuntimeError("bug"), {}) is None
