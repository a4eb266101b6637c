"""API authentication: one `Authorization: Bearer <token>` scheme for machine clients.

The token is either the desk-wide API_TOKEN (from the environment) or a named user's
DRF token. Browsers use the Django session (with CSRF) instead.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from rest_framework.authentication import TokenAuthentication


class ApiTokenClient:
    """The principal behind API_TOKEN: a machine client with the operator's rights.

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

    def has_perm(self, perm: str, obj: object = None) -> bool:
        return True

    def get_username(self) -> str:
        return self.username

    def __str__(self) -> str:
        return self.username


class BearerAuthentication(TokenAuthentication):
    keyword = "Bearer"

    def authenticate_credentials(self, key: str):
        api_token = settings.API_TOKEN
        # Constant-time comparison: the token must not leak through response timing.
        if api_token and hmac.compare_digest(key.encode(), api_token.encode()):
            return ApiTokenClient(), None
        return super().authenticate_credentials(key)
