"""The OpenAPI schema is valid and complete: every API endpoint and method, its request
body, its responses and its errors in the one error shape."""

from __future__ import annotations

import re

import pytest
import yaml
from django.core.management import call_command

from tests.api.test_auth_all_urls import ENDPOINTS

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_blocker, tmp_path_factory):
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    with django_db_blocker.unblock():
        # Fails on any warning drf-spectacular raises, and validates against OpenAPI 3.
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def _schema_path(schema: dict, path: str) -> str | None:
    """The schema's path template ("/api/orders/{id}") that a sample path matches; a
    literal path wins over a template (/api/strategies/ta, not /api/strategies/{id})."""
    for template in sorted(schema["paths"], key=lambda t: t.count("{")):
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template.rstrip("/")))
        if re.fullmatch(pattern + "/?", path):
            return template
    return None


API_ENDPOINTS = [e for e in ENDPOINTS if e.is_api and e.path not in ("/api/schema/", "/api/docs/")]


def test_schema_validates_without_warnings(schema):
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


@pytest.mark.parametrize("endpoint", API_ENDPOINTS, ids=lambda e: e.path)
def test_every_api_endpoint_and_method_is_documented(schema, endpoint):
    operations = schema["paths"].get(_schema_path(schema, endpoint.path))
    assert operations is not None, f"{endpoint.path} is missing from the schema"
    for method in endpoint.methods:
        if method == "options":
            continue
        assert method in operations, f"{method.upper()} {endpoint.path} is not documented"


def _operations(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def test_every_operation_documents_its_errors_in_the_error_shape(schema):
    error = {"$ref": "#/components/schemas/Error"}
    for path, method, operation in _operations(schema):
        responses = operation["responses"]
        public = operation.get("security") in ([], [{}]) or path == "/api/health"
        expected = {"429"} | (set() if public else {"401", "403"})
        if "requestBody" in operation:
            expected |= {"400", "415"}
        if "{id}" in path:
            expected.add("404")
        assert expected <= set(responses), (method, path, sorted(responses))
        for code, response in responses.items():
            assert response.get("description"), (method, path, code)
            if code.startswith(("4", "5")) and not public:
                assert response["content"]["application/json"]["schema"] == error, (
                    method,
                    path,
                    code,
                )
        assert any(code.startswith("2") for code in responses), (method, path)


TRADING_TAGS = {"strategies", "orders", "fills", "positions", "futures", "risk", "health"}


def test_every_trading_request_body_refuses_unknown_fields(schema):
    components = schema["components"]["schemas"]
    for path, method, operation in _operations(schema):
        if "requestBody" not in operation or not TRADING_TAGS & set(operation["tags"]):
            continue
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        component = components[ref.rsplit("/", 1)[1]]
        assert component.get("additionalProperties") is False, (method, path)
        assert set(operation["requestBody"]["content"]) == {"application/json"}, (method, path)


def test_each_strategy_kinds_params_are_documented(schema):
    components = schema["components"]["schemas"]
    kinds = [ref["$ref"].rsplit("/", 1)[1] for ref in components["StrategyParamsRequest"]["oneOf"]]
    assert kinds == [
        "TWAPParamsRequest",
        "VWAPParamsRequest",
        "IcebergParamsRequest",
        "TrailingStopParamsRequest",
        "TechnicalParamsRequest",
        "CombinedParamsRequest",
    ]
    twap = components["TWAPParamsRequest"]
    assert {"side", "total_quantity", "slices", "interval_seconds"} <= set(twap["required"])
    assert twap["additionalProperties"] is False
    ta = components["TechnicalStrategyCreateRequest"]["properties"]
    assert ta["strategy_type"]["allOf"][0]["$ref"].endswith("StrategyTypeEnum")
    assert ta["params"]["allOf"][0]["$ref"].endswith("TechnicalStrategyParamsRequest")
    assert "signal" not in components["TechnicalStrategyParamsRequest"]["properties"]


def test_positions_say_their_pnl_is_marked_every_tick(schema):
    position = schema["components"]["schemas"]["Position"]["properties"]
    assert "every trading tick" in position["mark_price"]["description"]
    assert "every tick" in position["unrealized_pnl"]["description"]


def test_manual_order_documents_the_rejected_status_choice(schema):
    created = schema["paths"]["/api/orders"]["post"]["responses"]["201"]
    assert "status rejected" in created["description"]
