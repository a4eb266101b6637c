"""`/livez` and `/readyz` for load balancers and container healthchecks: open to
anybody, and they say no more than which check fails (details: `/api/health`)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@never_cache
@require_GET
def livez(request: HttpRequest) -> JsonResponse:
    """The web process answers: nothing else is checked, so a database outage does not
    get every web container restarted."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    from trading.probes import probe_ready

    probe = probe_ready()
    return JsonResponse(
        {"status": "ok" if probe.ok else "failing", "checks": probe.checks},
        status=200 if probe.ok else 503,
    )
