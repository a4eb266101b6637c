"""`manage.py load_api` on a small load: a real daphne on the test database, whose
PostgreSQL connections stay within the pool's bound whatever the concurrency."""

from __future__ import annotations

import io
import os
import re

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_load_command_reports_and_the_server_stays_within_its_pool(settings, monkeypatch):
    db = settings.DATABASES["default"]
    monkeypatch.setenv(
        "DATABASE_URL", f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    )
    monkeypatch.setenv("DB_POOL_MAX_SIZE", "3")
    out = io.StringIO()
    call_command(
        "load_api", requests=120, concurrency=12, idle_seconds=1, max_seconds=60, stdout=out
    )
    report = out.getvalue()
    assert "psycopg pool, max_size 3" in report
    assert re.search(
        r"^120 requests \(120 asked\), concurrency 12, [\d.]+ s: \d+ requests/s$", report, re.M
    ), report
    assert "errors: 0 (none)" in report
    peak = int(re.search(r"peak (\d+) during the load", report).group(1))
    assert 1 <= peak <= 3, report
    assert os.environ["DB_POOL_MAX_SIZE"] == "3"


def test_the_load_command_refuses_unbounded_loads():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--requests"):
        call_command("load_api", requests=1_000_000)
    with pytest.raises(CommandError, match="--concurrency"):
        call_command("load_api", concurrency=1000)
