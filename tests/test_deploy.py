"""Production defaults: `manage.py check --deploy` has nothing to say, plain HTTP is
redirected to HTTPS (but the health check), HSTS is sent, and every response carries the
Content-Security-Policy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_settings import RANDOM_KEY

ROOT = Path(__file__).resolve().parent.parent


def production_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SECURE_", "DEBUG"))}
    env.update(
        XQUANT_ENV="production",
        XQUANT_ENV_FILE="/nonexistent",
        SECRET_KEY=RANDOM_KEY,
        DJANGO_SETTINGS_MODULE="xquant.settings",
        **extra,
    )
    return env


def test_check_deploy_is_clean_with_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


PROBE = """
import json, django
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
client = Client()
plain = client.get("/accounts/login/")
health = client.get("/api/health")
secure = client.get("/api/orders", secure=True)  # pages need collectstatic's manifest
print(json.dumps({
    "plain": [plain.status_code, plain.get("Location", "")],
    "health": health.status_code,
    "secure": [secure.status_code, secure.get("Strict-Transport-Security", ""),
               secure.get("Content-Security-Policy", "")],
}))
"""


@pytest.mark.django_db
def test_production_redirects_to_https_and_sends_hsts_and_the_policy(settings):
    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=production_env(DATABASE_URL=url, ALLOWED_HOSTS="testserver"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["plain"] == [301, "https://testserver/accounts/login/"]
    assert seen["health"] in (200, 503)  # load balancers probe over plain HTTP
    status, hsts, policy = seen["secure"]
    assert status in (401, 403)
    assert hsts == "max-age=31536000; includeSubDomains; preload"
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy


@pytest.mark.django_db
def test_every_response_carries_the_content_security_policy(client, user):
    client.force_login(user)
    for path in ("/", "/accounts/login/", "/api/orders", "/api/docs/"):
        policy = client.get(path)["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "object-src 'none'" in policy, path
