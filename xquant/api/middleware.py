"""Bodies over DATA_UPLOAD_MAX_MEMORY_SIZE to /api/ answer 413 in the error shape before
anything reads them (Django's own check gives an HTML 400, and only once the body is
read)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class ApiBodySizeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            if limit is not None and length > limit:
                from xquant.api.views import too_large

                return too_large(request)
        return self.get_response(request)
