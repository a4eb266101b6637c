"""API authentication: one `Authorization: Bearer <token>` scheme for machine clients.

The token is either the desk-wide API_TOKEN (from the environment) or a named user's
DRF token. Browsers use the Django session (with CSRF) instead.
"""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication, get_authorization_header

logger = logging.getLogger(__name__)


class ApiTokenClient:
    """The principal behind API_TOKEN: a machine client with the permissions of the
    role API_TOKEN_ROLE names (xquant.roles).

    Not a database user, so it cannot log into pages or the admin.
    """

    pk = "api-token"
    id = pk
    username = "api-token"
    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, role: str) -> None:
        self.role = role
        self._permissions: frozenset[str] | None = None

    def get_all_permissions(self, obj: object = None) -> frozenset[str]:
        if self._permissions is None:
            from xquant.roles import role_permissions

            self._permissions = role_permissions(self.role)
        return self._permissions

    def has_perm(self, perm: str, obj: object = None) -> bool:
        return perm in self.get_all_permissions()

    def has_perms(self, perms, obj: object = None) -> bool:
        return all(self.has_perm(perm) for perm in perms)

    def get_username(self) -> str:
        return self.username

    def __str__(self) -> str:
        return self.username


def _cache_call(method, request):
    """The failure count lives in the cache (Redis): if that is down, authentication
    goes on without it (as the health check's throttle does) rather than failing."""
    try:
        return method(request)
    except Exception:
        logger.warning("token failure throttle skipped: the cache is unavailable", exc_info=True)
        return False


class ThrottledFailures:
    """Token authentication that refuses (429) every attempt from an address that has
    failed too often (API_TOKEN_FAILURES), and counts each failure."""

    def authenticate(self, request):
        from xquant.api.throttling import TokenFailureThrottle

        if not self._offers_credentials(request):
            return None
        throttle = TokenFailureThrottle()
        if _cache_call(throttle.locked, request):
            raise exceptions.Throttled(
                wait=throttle.wait(),
                detail="Too many failed token attempts from this address; try again later.",
            )
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            _cache_call(throttle.record_failure, request)
            raise

    def _offers_credentials(self, request) -> bool:
        header = get_authorization_header(request).split()
        return bool(header) and header[0].lower() == self.keyword.lower().encode()


class UserTokenAuthentication(ThrottledFailures, TokenAuthentication):
    """A named user's DRF token: `Authorization: Token <key>`."""


class BearerAuthentication(ThrottledFailures, TokenAuthentication):
    keyword = "Bearer"

    def authenticate_credentials(self, key: str):
        api_token = settings.API_TOKEN
        # Constant-time comparison: the token must not leak through response timing.
        if api_token and hmac.compare_digest(key.encode(), api_token.encode()):
            return ApiTokenClient(settings.API_TOKEN_ROLE), None
        return super().authenticate_credentials(key)
