"""Django-level error pages for /api/ paths, in the API's one error shape.

DRF renders errors raised inside its views; these cover what happens before a view
runs (a URL that matches no pattern, e.g. /api/orders/abc) and an unexpected crash.
Other paths keep Django's pages.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from xquant.api.exceptions import error_body


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


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
