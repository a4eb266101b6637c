"""Django-level error pages for /api/ paths, in the API's one error shape.

DRF renders errors raised inside its views; these cover what happens before a view
runs (a URL that matches no pattern, e.g. /api/orders/abc) and an unexpected crash.
Other paths keep Django's pages.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from xquant.api.exceptions import error_body


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def too_large(request: HttpRequest) -> HttpResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return JsonResponse(
        error_body(
            "request_too_large",
            f"The request body is larger than {limit} bytes, the most this API accepts.",
        ),
        status=413,
    )


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 400s (a body over DATA_UPLOAD_MAX_MEMORY_SIZE read without a length,
    too many fields, a bad Host) for /api/ paths, in the error shape."""
    if _is_api(request):
        if isinstance(exception, RequestDataTooBig):
            return too_large(request)
        return JsonResponse(error_body("bad_request", "Bad request."), status=400)
    return defaults.bad_request(request, exception)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(
            error_body("not_found", f"No API endpoint at {request.path}; see /api/docs/."),
            status=404,
        )
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(
            error_body("server_error", "Internal error; it has been logged."), status=500
        )
    return defaults.server_error(request)
