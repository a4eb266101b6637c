"""Serializer building blocks every API module shares."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers


def json_type_errors(
    fields: Mapping[str, serializers.Field], data: Mapping[str, Any]
) -> dict[str, list[str]]:
    """Values whose JSON type is not the field's, per field name.

    DRF coerces generously: "5" and 5.0 become an integer, 0 and "yes" a boolean, 42 a
    string. A JSON API should take what its schema says, so a client bug ("active": 0
    meant as false) is reported instead of guessed at. Decimals stay lenient on purpose:
    they are documented as a decimal string or a JSON number.
    """
    errors: dict[str, list[str]] = {}
    for name, value in data.items():
        field = fields.get(name)
        if field is None or field.read_only or value is None:
            continue
        if isinstance(field, serializers.BooleanField):
            wrong, message = not isinstance(value, bool), "Must be true or false."
        elif isinstance(field, serializers.IntegerField):
            integral = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
            wrong, message = isinstance(value, bool) or not integral, "Must be a whole number."
        elif isinstance(field, serializers.CharField):
            wrong, message = not isinstance(value, str), "Must be a string."
        else:
            wrong, message = False, ""
        if wrong:
            errors[name] = [message]
    return errors


# A request body that refuses fields it does not know, and values of the wrong JSON type.
# DRF drops unknown keys silently, so a typo ("quantitiy") or a field that belongs to
# another endpoint would be accepted and ignored; the client must hear about it. The
# OpenAPI schema says so too (additionalProperties: false, see xquant.api.schema). No
# docstring on purpose: the schema would show it as the description of every request.
class StrictInputSerializer(serializers.Serializer):
    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                allowed = ", ".join(sorted(writable))
                raise serializers.ValidationError(
                    {name: [f"Unknown field. Allowed: {allowed}."] for name in unknown}
                )
            errors = json_type_errors(self.fields, data)
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)
