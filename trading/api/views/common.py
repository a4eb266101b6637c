"""What every trading API view shares: the exchange seam and error documentation."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from exchanges.base import Exchange
from xquant.api.parsers import BoundedJSONParser
from xquant.api.schema import ERROR_DESCRIPTIONS, ErrorSerializer
from xquant.errors import ConflictError


# Request bodies are JSON only: form encoding cannot express nested params, and its rules
# for absent booleans (always false) would override documented defaults. The browsable
# API still works through its raw-data (JSON) form. Other media types: 415. (No docstring:
# the schema would show it on every operation of the views that mix it in.)
class JsonBodies:
    parser_classes = [BoundedJSONParser]


def exchange_for(name: str | None = None) -> Exchange:
    """The configured exchange, or the one an order was placed on."""
    from exchanges.registry import EXCHANGE_NAMES, get_exchange

    if name is not None and name not in EXCHANGE_NAMES:
        raise ConflictError(
            f"this order was placed on {name!r}, which this server cannot reach "
            f"(it runs {settings.EXCHANGE})"
        )
    return get_exchange(name)


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """Error responses for @extend_schema, in the one error shape."""
    return {
        code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[str(code)])
        for code in codes
    }


#: The id in a detail path, an integer (the URL pattern takes digits only).
ID_PARAMETER = OpenApiParameter(
    "id", {"type": "integer", "minimum": 1}, OpenApiParameter.PATH, description="Object id."
)

#: What a call that reaches the exchange may answer besides success.
EXCHANGE_ERRORS = (502, 503, 504)
