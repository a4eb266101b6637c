"""Every URL of the project requires authentication unless it is on the explicit public
list: anonymous requests are refused (401/403, or a redirect to a login page for
pages), and every /api/ endpoint accepts the bearer API_TOKEN.

The URL patterns are walked from the root resolver, so an endpoint added anywhere
(admin, research, a new app) is covered without touching this test.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern
from rest_framework.test import APIClient
from rest_framework.views import APIView

pytestmark = pytest.mark.django_db

#: Public on purpose. Everything else must refuse an anonymous request.
PUBLIC = {
    "/api/health",
    # Container probes: they answer only "ok" or which check fails.
    "/livez",
    "/readyz",
    # Logging in, out and recovering a password happen before one is logged in.
    "/accounts/login/",
    "/accounts/logout/",
    "/accounts/password_reset/",
    "/accounts/password_reset/done/",
    "/accounts/reset/1/1/",
    "/accounts/reset/done/",
    "/admin/login/",
    # The site's icon, for pages that do not link it.
    "/favicon.ico",
}

CONVERTER_SAMPLES = {"int": "1", "str": "1", "slug": "1", "path": "1", "uuid": "0" * 32}


@dataclass
class Endpoint:
    path: str
    callback: object
    methods: list[str]

    @property
    def is_api(self) -> bool:
        return self.path.startswith("/api/")


def _sample_group(inner: str) -> str:
    if re.fullmatch(r"[\w-]+(\|[\w-]+)*", inner):  # an alternation of literals
        return inner.split("|")[0]
    return "1"


def _concrete(pattern) -> str:
    if isinstance(pattern, RoutePattern):
        route = str(pattern._route)
        return re.sub(r"<(?:(\w+):)?\w+>", lambda m: CONVERTER_SAMPLES[m.group(1) or "str"], route)
    assert isinstance(pattern, RegexPattern), pattern
    regex = pattern._regex
    regex = re.sub(
        r"\(\?P<\w+>((?:[^()]|\([^()]*\))*)\)", lambda m: _sample_group(m.group(1)), regex
    )
    regex = regex.replace("/?", "").lstrip("^").rstrip("$").replace("\\", "")
    assert not re.search(r"[()\[\]?*+]", regex), f"cannot make a path from {pattern._regex!r}"
    return regex


def _methods(callback) -> list[str]:
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    actions = getattr(callback, "actions", None)
    if actions:  # a DRF viewset route: only the mapped methods
        return sorted({*actions, "options"})
    if cls is not None and issubclass(cls, APIView):
        return sorted(m for m in cls.http_method_names if m != "head" and hasattr(cls, m))
    return ["get"]  # Django pages: GET shows whether they let strangers in


def walk(resolver: URLResolver | None = None, prefix: str = "/") -> list[Endpoint]:
    resolver = resolver or get_resolver()
    endpoints = []
    for entry in resolver.url_patterns:
        path = prefix + _concrete(entry.pattern)
        if isinstance(entry, URLResolver):
            endpoints += walk(entry, path)
        elif isinstance(entry, URLPattern):
            endpoints.append(Endpoint(path, entry.callback, _methods(entry.callback)))
    return endpoints


ENDPOINTS = walk()


def test_the_walk_finds_every_kind_of_url_and_each_sample_path_resolves_to_its_view():
    paths = {endpoint.path for endpoint in ENDPOINTS}
    for expected in (
        "/api/health",
        "/api/orders",
        "/api/orders/1/cancel",
        "/api/strategies/ta",
        "/api/strategies/1/toggle",
        "/api/risk/kill-switch",
        "/api/futures/settings",
        "/api/schema/",
        "/admin/",
        "/admin/trading/order/1/change/",
        "/",
    ):
        assert expected in paths, sorted(paths)
    for endpoint in ENDPOINTS:
        match = resolve(endpoint.path)
        assert match.func == endpoint.callback, (endpoint.path, match.func, endpoint.callback)
    assert paths >= PUBLIC, PUBLIC - paths


PROTECTED = [e for e in ENDPOINTS if e.path not in PUBLIC]


def _call(client, method: str, path: str):
    kwargs = {"format": "json"} if method in ("post", "put", "patch") else {}
    return getattr(client, method)(path, **kwargs)


@pytest.mark.parametrize(
    ("path", "method"),
    [(e.path, m) for e in PROTECTED for m in e.methods],
)
def test_anonymous_request_is_refused(path, method):
    response = _call(APIClient(), method, path)
    if path.startswith("/api/"):
        assert response.status_code in (401, 403), (method, path, response.status_code)
        if "json" in response["Content-Type"]:
            assert json.loads(response.content)["code"] in (
                "not_authenticated",
                "permission_denied",
            )
    else:
        assert response.status_code in (302, 401, 403), (method, path, response.status_code)
        if response.status_code == 302:
            # Possibly via the admin index: the chain must end on a login page.
            final = APIClient().get(path, follow=True)
            assert "/login/" in final.redirect_chain[-1][0], final.redirect_chain


@pytest.mark.parametrize(
    ("path", "method"),
    [(e.path, m) for e in PROTECTED if e.is_api for m in e.methods],
)
def test_bearer_api_token_is_accepted(api, path, method):
    # Empty bodies and unknown ids: accepted credentials, then a 2xx or an input
    # error (400/404/405) — never an authentication refusal, and nothing traded.
    response = _call(api, method, path)
    assert response.status_code not in (401, 403), (method, path, response.content)
    assert response.status_code < 500, (method, path, response.content)


@pytest.mark.parametrize("path", sorted(PUBLIC))
def test_public_urls_answer_strangers(path):
    response = APIClient().get(path)
    assert response.status_code in (200, 301, 302, 405, 503), (path, response.status_code)
