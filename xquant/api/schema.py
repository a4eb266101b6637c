"""drf-spectacular extensions: the bearer scheme, the error shape, and the errors every
operation can answer with, so the schema documents every response a client can get."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import permissions, serializers


class BearerAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "xquant.api.authentication.BearerAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "API_TOKEN from the environment, or a named user's DRF token.",
        }


class ErrorSerializer(serializers.Serializer):
    """The body of every error response."""

    code = serializers.CharField(help_text="Stable machine-readable error code.")
    message = serializers.CharField(help_text="What was wrong and what is allowed.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Messages per invalid input field.",
    )


class StrictSerializerSchema(OpenApiSerializerExtension):
    """Request bodies that refuse unknown fields say so: additionalProperties false."""

    target_class = "xquant.api.serializers.StrictInputSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema["additionalProperties"] = False
        return schema


class StrictParamsSchema(StrictSerializerSchema):
    """Strategy parameters refuse unknown keys the same way (trading.strategies.params)."""

    target_class = "trading.strategies.params.StrictParams"


SUCCESS_DESCRIPTIONS = {
    "200": "OK.",
    "201": "Created.",
    "202": "Accepted; the work goes on in the background.",
    "204": "Done; no content.",
}
ERROR_DESCRIPTIONS = {
    "400": "Invalid input: `fields` says which field and what is allowed.",
    "401": "No credentials, or wrong ones.",
    "403": "Authenticated, but not allowed (e.g. a session request without its CSRF token).",
    "404": "No such object (or page).",
    "409": "The request is valid but the current state forbids it.",
    "415": "The request body is not JSON (or another accepted media type).",
    "429": "Too many requests: wait for Retry-After seconds.",
    "502": "The exchange refused or failed the call (its message says why).",
    "503": "A dependency is unavailable right now (exchange, lock): safe to retry later.",
    "504": "The exchange did not answer in time; the outcome is unknown until it is looked up.",
}


class AutoSchema(SpectacularAutoSchema):
    """Adds the error responses any operation may give, in the one error shape:
    400 for operations that take input, 401/403 unless public, 404 for object paths and
    pages, 415 for request bodies, 429 (throttling) everywhere. Views document the rest
    (409, 502-504) with @extend_schema."""

    def _get_filter_parameters(self) -> list[dict[str, Any]]:
        # django-filter ignores a filter given empty (?symbol=): say so, so that clients
        # and fuzzers know an empty value is not an error.
        parameters = super()._get_filter_parameters()
        for parameter in parameters:
            if parameter.get("in") == "query":
                parameter["allowEmptyValue"] = True
        return parameters

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._default_error_codes():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    ErrorSerializer, code, direction=direction
                )
        for code, response in responses.items():
            if not response.get("description"):
                response["description"] = ERROR_DESCRIPTIONS.get(code) or SUCCESS_DESCRIPTIONS.get(
                    code, ""
                )
        return dict(sorted(responses.items()))

    def _default_error_codes(self) -> list[str]:
        codes = ["429"]
        has_body = self.method in ("POST", "PUT", "PATCH")
        has_query = bool(
            self._get_filter_parameters()
            or self._get_pagination_parameters()
            or any(
                getattr(p, "location", "query") == "query" for p in self.get_override_parameters()
            )
        )
        if has_body or has_query:
            codes.append("400")
        if has_body:
            codes.append("415")
        if not any(isinstance(p, permissions.AllowAny) for p in self.view.get_permissions()):
            codes += ["401", "403"]
        if "{" in self.path or self._get_pagination_parameters():
            codes.append("404")
        return codes


def postprocess_optional_trailing_slash(result, generator, request, public):
    """Document paths that work with and without a trailing slash without it, as the
    API is called (/api/orders, /api/health). Paths that need the slash keep it."""
    from django.urls import Resolver404, resolve

    paths = {}
    for path, operations in result.get("paths", {}).items():
        bare = path.rstrip("/")
        if bare and bare != path:
            sample = re.sub(r"\{[^}]+\}", "1", bare)
            try:
                if resolve(sample).func == resolve(sample + "/").func:
                    path = bare
            except Resolver404:
                pass
        paths[path] = operations
    result["paths"] = paths
    return result


def postprocess_decimal_inputs(result, generator, request, public):
    """Request bodies take a decimal as a string ("0.01") or a JSON number (0.01), as
    DRF's DecimalField does; responses always give strings. Say so in the schema."""

    def widen(node):
        if isinstance(node, dict):
            if node.get("type") == "string" and node.get("format") == "decimal":
                number = {"type": "number"}
                described = {k: node.pop(k) for k in ("description", "default") if k in node}
                string = dict(node)
                node.clear()
                node.update(oneOf=[string, number], **described)
                return
            for value in node.values():
                widen(value)
        elif isinstance(node, list):
            for value in node:
                widen(value)

    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request"):
            widen(component)
    return result
