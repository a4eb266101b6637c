"""Who may open a dashboard page or press its buttons: the roles' permissions
(xquant.roles), checked the same way as the API's (xquant.api.permissions)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse

from xquant.roles import READ_DESK


def refused_message(permission: str) -> str:
    return f"Your role does not allow this: it needs the permission {permission}."


def refused(request: HttpRequest, permission: str) -> HttpResponse:
    """403: JSON for the pages' scripts, Django's page for a plain request."""
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"error": refused_message(permission)}, status=403)
    raise PermissionDenied(refused_message(permission))


def desk_view(permission: str = READ_DESK) -> Callable:
    """A logged-in user holding `permission` (strangers go to the login page)."""

    def decorator(view: Callable) -> Callable:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.has_perm(permission):
                return refused(request, permission)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
