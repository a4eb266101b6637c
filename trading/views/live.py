"""Pages made of live fragments.

A page is a set of named fragments, each a template plus the function that builds its
context. The full page renders them all; `?fragment=<name>` on the same URL (query
string kept, so filters and the page number hold) renders one of them alone, which is
what static/js/live.js fetches when an event says that part of the page changed, and
after a reconnect, to catch up on what the page may have missed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

FRAGMENT_PARAM = "fragment"


@dataclass(frozen=True)
class Fragment:
    template: str
    context: Callable[[], dict[str, Any]]


def render_live_page(
    request: HttpRequest,
    template: str,
    fragments: dict[str, Fragment],
    context: dict[str, Any] | None = None,
) -> HttpResponse:
    base = dict(context or {})
    name = request.GET.get(FRAGMENT_PARAM)
    if name:
        fragment = fragments.get(name)
        if fragment is None:
            raise Http404(f"This page has no fragment {name!r}.")
        response = render(request, fragment.template, {**base, **fragment.context()})
    else:
        for fragment in fragments.values():
            base.update(fragment.context())
        response = render(request, template, base)
    # Live pages are never served from a cache: a stale copy would undo live updates.
    add_never_cache_headers(response)
    return response
