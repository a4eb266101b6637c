"""The suite runs on the real services: PostgreSQL, Redis, a Celery worker, Channels."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import redis
from django.conf import settings
from django.db import connection

from xquant.celery import app as celery_app


def test_database_is_postgresql(db):
    # The suite must never quietly fall back to SQLite: constraints, locking and
    # Decimal precision are tested on the database production uses.
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("select version()")
        assert cursor.fetchone()[0].startswith("PostgreSQL")


def test_redis_answers():
    assert settings.REDIS_URL, "make test sets REDIS_URL"
    assert redis.Redis.from_url(settings.REDIS_URL).ping() is True


def test_channel_layer_and_cache_use_redis_when_redis_url_is_set():
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"


def test_celery_uses_redis_broker_and_database_beat_schedule():
    assert celery_app.conf.broker_url == settings.REDIS_URL
    assert celery_app.conf.beat_scheduler == "django_celery_beat.schedulers:DatabaseScheduler"
    assert celery_app.conf.task_always_eager is False


@pytest.mark.slow
def test_a_real_celery_worker_answers_over_the_redis_broker():
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "xquant",
            "worker",
            "--pool=solo",
            "--hostname=infra-test@%h",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "WARNING",
        ],
        env={**os.environ},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        replies = []
        while time.monotonic() < deadline and not replies:
            replies = celery_app.control.ping(timeout=1.0, destination=None)
            replies = [r for r in replies if any(k.startswith("infra-test@") for k in r)]
        assert replies, "the worker never answered a ping through the broker"
    finally:
        worker.terminate()
        worker.wait(timeout=30)
