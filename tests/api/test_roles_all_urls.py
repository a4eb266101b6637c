"""The role matrix: every URL pattern (walked from the root resolver, as in
test_auth_all_urls) and every websocket route, for every role, through every way in —
a browser session, the bearer API_TOKEN configured with that role, and the admin.

Expected access is written here, by role, independently of xquant.roles: reads for every
role, each write for the roles below. A write endpoint added without a row here fails
the test, so nobody gets a new power by accident.
"""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Permission
from django.urls import resolve
from rest_framework.test import APIClient

from tests.api.conftest import API_TOKEN
from tests.api.test_auth_all_urls import ENDPOINTS, PUBLIC, _call
from tests.conftest import user_with_roles
from xquant.routing import websocket_urlpatterns

#: "none" is a logged-in person (staff, even) who was given no role.
ROLES = ("none", "viewer", "trader", "risk", "admin")
READERS = {"viewer", "trader", "risk", "admin"}
TRADERS = {"trader", "admin"}
RISK = {"risk", "admin"}

#: (method, path) → the roles that may do it; everything else on /api/ is a read.
API_WRITES = {
    ("post", "/api/orders"): TRADERS,
    ("post", "/api/orders/1/cancel"): TRADERS,
    ("post", "/api/strategies"): TRADERS,
    ("post", "/api/strategies/ta"): TRADERS,
    ("patch", "/api/strategies/1"): TRADERS,
    ("delete", "/api/strategies/1"): TRADERS,
    ("post", "/api/strategies/1/toggle"): TRADERS,
    ("post", "/api/backtest"): TRADERS,
    ("patch", "/api/risk/limits"): RISK,
    ("post", "/api/risk/kill-switch"): RISK,
    ("post", "/api/futures/settings"): RISK,
    ("post", "/api/positions/1/close"): TRADERS,
    ("post", "/api/research/studies"): TRADERS,
    ("post", "/api/research/studies/1/resume"): TRADERS,
    ("post", "/api/research/studies/1/strategy"): TRADERS,
    ("post", "/api/research/walkforwards"): TRADERS,
}

#: Dashboard buttons (POST views): path → the roles that may press them.
PAGE_ACTIONS = {
    "/orders/1/cancel/": TRADERS,
    "/strategies/1/toggle/": TRADERS,
    "/risk/kill-switch/": RISK,
    "/orders/place/": TRADERS,
    "/orders/cancel-open/": TRADERS,
    "/positions/1/close/": TRADERS,
    "/research/studies/1/strategy/": TRADERS,
    "/research/studies/1/walkforward/": TRADERS,
}
#: Scraped by machines with a token or from allowed addresses of their own (METRICS_*),
#: not a person's page: outside the roles.
MACHINE_ONLY = {"/metrics"}

#: Admin pages beyond Django's model permissions: URL name → the permission.
ADMIN_CUSTOM = {
    "trading_order_place": "trading.add_order",
    "trading_risklimits_kill_switch": "trading.operate_kill_switch",
    "trading_strategyconfig_toggle": "trading.change_strategyconfig",
    "auth_user_password_change": "auth.change_user",
}
ADMIN_ANY_STAFF = {"index", "logout", "password_change", "password_change_done", "jsi18n"}
#: Rows only the services write: the admin shows them to no one as addable/deletable.
ADMIN_NO_ADD = {
    "trading.order",
    "trading.fill",
    "trading.position",
    "trading.strategyposition",
    "trading.traderheartbeat",
    "trading.futuressettings",
    "trading.risklimits",
    "prediction.candle",
    "prediction.backtestrun",
    "research.study",
    "research.walkforward",
    "trading.auditevent",
    "trading.reconcileissue",
    "trading.accountbalance",
    # django-axes's records of login attempts: written by logins only.
    "axes.accessattempt",
    "axes.accesslog",
    "axes.accessfailurelog",
}
# Candles, backtests and login attempts (a lockout is lifted by deleting them) may go.
ADMIN_NO_DELETE = {
    name for name in ADMIN_NO_ADD if name.split(".")[0] not in ("prediction", "axes")
}


def _admin_required(path: str) -> str | None:
    """The permission an admin page needs (None: any staff member), from its URL name."""
    match = resolve(path)
    name = match.url_name
    # No name: the admin's redirect of <object id>/ to its change page, which checks.
    if name is None or name in ADMIN_ANY_STAFF or name in ("autocomplete", "view_on_site"):
        return None
    if name in ADMIN_CUSTOM:
        return f"custom:{ADMIN_CUSTOM[name]}"
    if name == "app_list":
        return f"app:{match.kwargs['app_label']}"
    app_model, _, view = name.rpartition("_")
    for perm in Permission.objects.select_related("content_type"):
        label = f"{perm.content_type.app_label}_{perm.content_type.model}"
        if label == app_model:
            action = {"changelist": "view", "change": "view", "history": "view"}.get(view, view)
            return f"{perm.content_type.app_label}.{action}_{perm.content_type.model}"
    raise AssertionError(f"no permission known for the admin page {path} ({name})")


def _admin_allowed(user, required: str | None) -> bool:
    if required is None:
        return True
    if required.startswith("app:"):
        return user.has_module_perms(required[4:])
    if required.startswith("custom:"):
        return user.has_perm(required[7:])
    app, codename = required.split(".")
    action, _, model = codename.partition("_")
    if action == "add" and f"{app}.{model}" in ADMIN_NO_ADD:
        return False
    if action == "delete" and f"{app}.{model}" in ADMIN_NO_DELETE:
        return False
    if codename.startswith("view_"):  # Django's admin shows a page to changers too
        return user.has_perm(required) or user.has_perm(f"{app}.change_{codename[5:]}")
    return user.has_perm(required)


def _person(role: str):
    roles = () if role == "none" else (role,)
    return user_with_roles(f"{role}-person", *roles, is_staff=True)


def _refused_by_api(response) -> bool:
    if response.status_code != 403:
        assert response.status_code != 401, response.content
        return False
    if "json" in response["Content-Type"]:
        assert response.json()["code"] == "permission_denied", response.content
    return True


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_every_api_endpoint_allows_exactly_its_roles_by_session_and_by_token(role, settings):
    settings.API_TOKEN = API_TOKEN
    settings.API_TOKEN_ROLE = "viewer" if role == "none" else role
    session = APIClient()
    session.force_login(_person(role))
    token = APIClient()
    token.credentials(HTTP_AUTHORIZATION=f"Bearer {API_TOKEN}")
    clients = {"session": session} if role == "none" else {"session": session, "token": token}

    mismatches = []
    for endpoint in ENDPOINTS:
        if not endpoint.is_api or endpoint.path in PUBLIC:
            continue
        for method in endpoint.methods:
            if method in ("get", "head", "options"):
                allowed = role in READERS
            else:
                key = (method, endpoint.path)
                assert key in API_WRITES, f"{key} is a write with no row in API_WRITES"
                allowed = role in API_WRITES[key]
            for how, client in clients.items():
                response = _call(client, method, endpoint.path)
                assert response.status_code < 500, (how, method, endpoint.path, response.content)
                if _refused_by_api(response) == allowed:
                    mismatches.append((how, method, endpoint.path, response.status_code))
    assert not mismatches, f"{role}: {mismatches}"


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_every_dashboard_page_and_button_allows_exactly_its_roles(role, client):
    client.force_login(_person(role))
    mismatches = []
    for endpoint in ENDPOINTS:
        path = endpoint.path
        if path.startswith(("/api/", "/admin/", "/accounts/")) or path in PUBLIC | MACHINE_ONLY:
            continue
        for method in ("get", "post"):
            allowed = role in PAGE_ACTIONS.get(path, READERS)
            if method == "post" and path in ("/backtests/", "/research/studies/"):
                allowed = role in TRADERS
            response = getattr(client, method)(path, HTTP_ACCEPT="text/html")
            assert response.status_code < 500, (method, path, response.status_code)
            if (response.status_code == 403) == allowed:
                mismatches.append((method, path, response.status_code))
    assert not mismatches, f"{role}: {mismatches}"


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_every_admin_page_follows_the_roles_permissions(role, client):
    person = _person(role)
    client.force_login(person)
    mismatches = []
    for endpoint in ENDPOINTS:
        if not endpoint.path.startswith("/admin/") or endpoint.path in PUBLIC:
            continue
        name = resolve(endpoint.path).url_name or ""
        if name == "autocomplete" or name.endswith("_history"):
            # Without a query (autocomplete) or an object (history, which redirects
            # before it checks), Django's own views cannot say; the change pages can.
            continue
        allowed = _admin_allowed(person, _admin_required(endpoint.path))
        response = client.get(endpoint.path)
        assert response.status_code < 500, (endpoint.path, response.status_code)
        refused = response.status_code == 403 or (
            response.status_code == 404 and name == "app_list"
        )
        if refused == allowed:
            mismatches.append((endpoint.path, response.status_code))
    assert not mismatches, f"{role}: {mismatches}"


@pytest.mark.django_db
def test_roles_hold_what_the_issue_gives_them_and_nothing_more(django_user_model):
    people = {role: _person(role) for role in ROLES}
    writes = {
        "trading.add_order": TRADERS,
        "trading.cancel_order": TRADERS,
        "trading.add_strategyconfig": TRADERS,
        "trading.change_strategyconfig": TRADERS,
        "trading.delete_strategyconfig": TRADERS,
        "prediction.add_backtestrun": TRADERS,
        "trading.change_risklimits": RISK,
        "trading.operate_kill_switch": RISK,
        "trading.change_futuressettings": RISK,
        "auth.change_user": {"admin"},
        "auth.change_group": {"admin"},
    }
    for perm, roles in writes.items():
        holders = {role for role, person in people.items() if person.has_perm(perm)}
        assert holders == roles, (perm, holders)
    # A viewer's permissions are all reads.
    viewer_perms = people["viewer"].get_all_permissions()
    assert viewer_perms and all(
        p == "trading.read_desk" or p.split(".")[1].startswith("view_") for p in viewer_perms
    ), viewer_perms
    assert not people["none"].get_all_permissions()


WEBSOCKET_PATHS = ["/ws/dashboard/", "/ws/BTCUSDT/"]
ORIGIN = [(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000")]


def test_the_websocket_sample_paths_cover_every_route():
    assert len(WEBSOCKET_PATHS) == len(websocket_urlpatterns)
    for route, path in zip(websocket_urlpatterns, WEBSOCKET_PATHS, strict=True):
        assert route.pattern.match(path.lstrip("/")), (route, path)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", (*ROLES, "anonymous"))
def test_every_websocket_route_accepts_exactly_the_readers(role, client):
    from xquant.asgi import application

    headers = list(ORIGIN)
    if role != "anonymous":
        client.force_login(_person(role))
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))

    async def connect(path: str) -> bool:
        communicator = WebsocketCommunicator(application, path, headers=headers)
        connected, _ = await communicator.connect(timeout=5)
        await communicator.disconnect()
        return connected

    for path in WEBSOCKET_PATHS:
        assert async_to_sync(connect)(path) == (role in READERS), (role, path)


@pytest.mark.django_db
def test_the_api_token_is_a_viewer_unless_configured_otherwise(settings):
    from django.conf import settings as django_settings

    assert django_settings.API_TOKEN_ROLE == "viewer"  # the suite runs on the defaults
    settings.API_TOKEN = API_TOKEN
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {API_TOKEN}")
    assert client.get("/api/orders").status_code == 200
    body = {"symbol": "BTCUSDT", "side": "BUY", "order_type": "MARKET", "quantity": "0.001"}
    refused = client.post("/api/orders", body, format="json")
    assert refused.status_code == 403
    assert refused.json() == {
        "code": "permission_denied",
        "message": "Your role does not allow this: it needs the permission trading.add_order.",
    }
    from trading.models import Order

    assert not Order.objects.exists()
