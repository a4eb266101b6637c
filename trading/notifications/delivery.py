"""apprise, wrapped once: its outcomes become DeliveryFailed (permanent or not).

apprise's own retries stay off (`retry=0` is its default): the notification service
owns the retry policy, so a failing target is retried a bounded number of times with
backoff, from a Celery task or the embedded background thread, never inline.
"""

from __future__ import annotations

import apprise

from xquant.errors import ApplicationError


class DeliveryFailed(ApplicationError):
    """A message did not reach its target. `permanent`: retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


def _service(url: str):
    service = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if not service:
        raise DeliveryFailed("not a valid apprise URL", permanent=True)
    return service


def url_is_valid(url: str) -> bool:
    return bool(apprise.Apprise.instantiate(url, suppress_exceptions=True))


def redacted_url(url: str) -> str:
    """The URL with its secret parts (passwords, tokens) masked, as apprise masks them."""
    try:
        return _service(url).url(privacy=True)
    except DeliveryFailed:
        return "(not a valid apprise URL)"


def deliver(*, url: str, title: str, body: str) -> None:
    """Send one message; raises DeliveryFailed when the target did not take it."""
    service = _service(url)
    try:
        sent = service.notify(title=title, body=body or title)
    except Exception as exc:  # a plugin bug must not be mistaken for success
        raise DeliveryFailed(
            f"the {service.service_name} plugin failed: {type(exc).__name__}"
        ) from None
    if not sent:
        raise DeliveryFailed(f"the {service.service_name} target did not accept the message")
