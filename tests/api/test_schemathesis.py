"""Fuzz every operation of the live OpenAPI schema with schemathesis, in process.

Bounded and deterministic: at most MAX_EXAMPLES generated requests per operation, valid
(positive) and invalid (negative) ones, from a fixed seed (derandomize). Every response
must not be a 5xx and must match the schema: status code documented, content type,
headers and body. Requests carry the bearer API_TOKEN; anything that trades goes to the
paper exchange on the test database.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import API_TOKEN
from tests.api.fuzz_data import seed_objects

MAX_EXAMPLES = 25

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def _live_schema() -> dict:
    """What GET /api/schema/ serves, generated the same way (no request needed)."""
    generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(generated, renderer_context={}))


schema = schemathesis.openapi.from_dict(_live_schema())
schema.config.generation.update(max_examples=MAX_EXAMPLES)


def wsgi_app():
    handler = get_wsgi_application()

    def app(environ, start_response):
        # The test runs in one database transaction: Django must not close the
        # connection at the start or end of each request (the test client does the
        # same).
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            return handler(environ, start_response)
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)

    return app


schema.app = wsgi_app()


@pytest.fixture
def fuzz_env(db, settings, api_token):
    settings.EXCHANGE = "paper"
    settings.DEBUG = False
    seed_objects()


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_every_generated_request_within_its_schema(case, fuzz_env):
    case.call_and_validate(headers={"Authorization": f"Bearer {API_TOKEN}"}, checks=CHECKS)
