"""The audit trail: who changed what, when, from where, before and after.

Entry points (API views, dashboard actions, admin, commands) say who is acting with an
`Actor`; the services that change something record one AuditEvent in the same
transaction as the change when they are given one. Strategies' own orders are the
trading record, not the audit trail.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from trading.models import AuditEvent


@dataclass(frozen=True)
class Actor:
    """Who is acting and through what. `credential` names the session or token by a
    digest prefix, never the secret itself."""

    name: str
    channel: str
    user_id: int | None = None
    ip: str | None = None
    credential: str = ""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


def actor_from_request(request: Any, *, channel: str | None = None) -> Actor:
    """The actor behind a Django or DRF request (session, a user's token, API_TOKEN)."""
    from rest_framework.authtoken.models import Token

    from xquant.api.authentication import ApiTokenClient

    user = request.user
    ip = request.META.get("REMOTE_ADDR") or None
    if isinstance(user, ApiTokenClient):
        return Actor(name=user.username, channel="api-token", ip=ip, credential=f"role:{user.role}")
    auth = getattr(request, "auth", None)
    if isinstance(auth, Token):
        return Actor(
            name=user.get_username(),
            channel="token",
            user_id=user.pk,
            ip=ip,
            credential=f"token:{_digest(auth.key)}",
        )
    session_key = getattr(getattr(request, "session", None), "session_key", None) or ""
    return Actor(
        name=user.get_username(),
        channel=channel or "session",
        user_id=user.pk,
        ip=ip,
        credential=f"session:{_digest(session_key)}" if session_key else "",
    )


def command_actor(command: str) -> Actor:
    """A management command run by an operator on the server."""
    import getpass

    try:
        os_user = getpass.getuser()
    except (KeyError, OSError):
        os_user = "unknown"
    return Actor(name=f"command:{os_user}", channel="command", credential=command)


def _json(value: dict[str, Any]) -> dict[str, Any]:
    import json

    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def audit_record(
    *,
    actor: Actor,
    action: str,
    target: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event (in the caller's transaction, if any)."""
    event = AuditEvent(
        at=timezone.now(),
        actor_id=actor.user_id,
        actor_name=actor.name[:150],
        channel=actor.channel,
        ip=actor.ip,
        credential=actor.credential[:64],
        action=action,
        target=target[:100],
        before=_json(before or {}),
        after=_json(after or {}),
    )
    event.save()
    return event
