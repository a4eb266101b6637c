"""What an operator and a first-time user meet before any feature: the log on stderr
(each line once), the icon every page asks for, and the login page's hint."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import child_env

ROOT = Path(__file__).resolve().parent.parent


def test_a_request_warning_is_logged_once_with_debug_on():
    script = (
        "import django, logging; django.setup(); "
        "logging.getLogger('django.request').warning('Not Found: /nope')"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=child_env(DEBUG="true", XQUANT_ENV="development", XQUANT_ENV_FILE="/nonexistent"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "Not Found: /nope" in line]
    assert len(lines) == 1, result.stderr
    assert "WARNING django.request: Not Found: /nope" in lines[0]


def test_favicon_ico_leads_to_the_dashboards_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("img/favicon.svg")


def test_the_login_page_says_where_credentials_come_from(client, settings):
    settings.DEBUG = True
    page = client.get("/accounts/login/").content.decode()
    assert "Accounts are created by an administrator" in page
    assert "<code>make run</code> creates the first one" in page
    settings.DEBUG = False
    page = client.get("/accounts/login/").content.decode()
    assert "Accounts are created by an administrator" in page
    assert "make run" not in page


def test_logging_out_from_the_top_bar_ends_the_session(client, user):
    client.force_login(user)
    assert 'action="/accounts/logout/"' in client.get("/").content.decode()
    response = client.post("/accounts/logout/")
    assert response.status_code in (200, 302)
    assert client.get("/").status_code == 302  # back to the login page


def test_every_page_says_when_the_kill_switch_is_engaged(client, user):
    from trading.selectors import risk_limits_get

    client.force_login(user)
    assert "data-kill-banner hidden" in client.get("/performance/").content.decode()
    limits = risk_limits_get()
    limits.kill_switch_engaged, limits.kill_switch_reason = True, "exchange incident"
    limits.save()
    for url in ("/", "/orders/", "/performance/", "/activity/", "/backtests/"):
        page = client.get(url).content.decode()
        assert "data-kill-banner>" in page and "exchange incident" in page, url
