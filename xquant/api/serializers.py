"""Serializer building blocks every API module shares."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


# A request body that refuses fields it does not know. DRF drops unknown keys silently,
# so a typo ("quantitiy") or a field that belongs to another endpoint would be accepted
# and ignored; the client must hear about it. The OpenAPI schema says so too
# (additionalProperties: false, see xquant.api.schema). No docstring on purpose: the
# schema would show it as the description of every request body.
class StrictInputSerializer(serializers.Serializer):
    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                allowed = ", ".join(sorted(writable))
                raise serializers.ValidationError(
                    {name: [f"Unknown field. Allowed: {allowed}."] for name in unknown}
                )
        return super().to_internal_value(data)
