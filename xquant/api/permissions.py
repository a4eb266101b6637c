"""One DRF permission for the whole API, from the desk's roles (xquant.roles).

Reads (GET, HEAD, OPTIONS) need READ_DESK. A write needs the permission its view names
in `write_permissions`, keyed by the viewset action ("create", "cancel", ...) or, for
plain views, the HTTP method ("POST", "PATCH"); a write a view does not name is refused.
"""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from xquant.roles import READ_DESK


def required_permission(request, view) -> str | None:
    """The permission this request needs, or None when no one may make it."""
    if request.method in SAFE_METHODS:
        return READ_DESK
    needs = getattr(view, "write_permissions", {})
    action = getattr(view, "action", None)
    return needs.get(action) or needs.get(request.method)


class DeskPermission(BasePermission):
    message = "Your role does not allow this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            return False
        if not hasattr(view, request.method.lower()):
            return True  # a method the view does not have: the 405 says so
        needed = required_permission(request, view)
        if needed is not None and user.has_perm(needed):
            return True
        self.message = (
            f"Your role does not allow this: it needs the permission {needed}."
            if needed
            else "Your role does not allow this."
        )
        return False
