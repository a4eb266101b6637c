"""`manage.py load_api`: how the API holds under load, and how many PostgreSQL
connections one web process takes meanwhile.

Starts daphne on 127.0.0.1 (a free port) with this configuration and a throwaway
viewer API_TOKEN, sends --requests GET requests to the read endpoints with --concurrency
in flight, samples PostgreSQL's pg_stat_activity for that server's connections (it runs
under its own application_name) throughout and for a few seconds after, then stops the
server. Bounded: at most 100,000 requests, 200 in flight, --max-seconds overall.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

PATHS = (
    "/api/orders",
    "/api/strategies",
    "/api/positions",
    "/api/fills",
    "/api/risk/limits",
    "/api/futures/settings",
    "/api/strategy-positions",
)


@dataclass
class Sampler:
    """Counts the server's PostgreSQL sessions every few milliseconds."""

    application_name: str
    samples: list[int] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def count(self) -> int:
        with connections["default"].cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                [self.application_name],
            )
            return cursor.fetchone()[0]

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.samples.append(self.count())
                self.stop.wait(0.05)
        finally:
            connections["default"].close()


class Command(BaseCommand):
    help = "Load the API of a daphne started here and report rate, latency and connections."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--requests", type=int, default=2000)
        parser.add_argument("--concurrency", type=int, default=50)
        parser.add_argument("--max-seconds", type=float, default=180.0)
        parser.add_argument(
            "--idle-seconds",
            type=float,
            default=5.0,
            help="how long to keep counting connections after the load",
        )

    def handle(
        self,
        *args,
        requests: int,
        concurrency: int,
        max_seconds: float,
        idle_seconds: float,
        **options,
    ) -> None:
        if not 1 <= requests <= 100_000:
            raise CommandError("--requests must be between 1 and 100000")
        if not 1 <= concurrency <= 200:
            raise CommandError("--concurrency must be between 1 and 200")
        if not settings.DATABASES["default"]["ENGINE"].endswith(".postgresql"):
            raise CommandError("load_api measures PostgreSQL connections: set DATABASE_URL")

        port = _free_port()
        token = secrets.token_urlsafe(32)
        application_name = f"xquant-load-{port}"
        env = {
            **os.environ,
            "API_TOKEN": token,
            "API_TOKEN_ROLE": "viewer",
            # One client sends everything: the per-client rate would measure the throttle.
            "API_THROTTLE_USER": "100000000/minute",
            "DB_APPLICATION_NAME": application_name,
            "DEBUG": "false",
            "LOG_LEVEL": "WARNING",
        }
        server = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "xquant.asgi:application",
            ],
            cwd=Path(settings.BASE_DIR),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        sampler = Sampler(application_name)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_ready(base, server)
            # The server reads the same environment as this process.
            pool_size = int(os.environ.get("DB_POOL_MAX_SIZE", settings.DB_POOL_MAX_SIZE))
            max_age = os.environ.get("DB_CONN_MAX_AGE", "60")
            self.stdout.write(
                f"daphne on {base}; database connections per process: "
                + (
                    f"psycopg pool, max_size {pool_size}"
                    if pool_size
                    else f"no pool, CONN_MAX_AGE {max_age}"
                )
            )
            thread = threading.Thread(target=sampler.run, daemon=True)
            thread.start()
            started = time.monotonic()
            latencies, errors = asyncio.run(
                _load(base, token, requests, concurrency, deadline=started + max_seconds)
            )
            elapsed = time.monotonic() - started
            during = list(sampler.samples)
            time.sleep(idle_seconds)
            sampler.stop.set()
            thread.join(timeout=5)
            after = sampler.samples[len(during) :] or during[-1:]
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=5)

        done = len(latencies) + sum(errors.values())
        ordered = sorted(latencies)

        def p(q: float) -> float:
            if not ordered:
                return float("nan")
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

        self.stdout.write(
            f"{done} requests ({requests} asked), concurrency {concurrency}, {elapsed:.1f} s: "
            f"{done / elapsed:.0f} requests/s"
        )
        self.stdout.write(
            f"latency p50 {p(0.50):.0f} ms, p95 {p(0.95):.0f} ms, p99 {p(0.99):.0f} ms, "
            f"max {max(ordered, default=0) * 1000:.0f} ms"
            + (f", mean {statistics.fmean(ordered) * 1000:.0f} ms" if ordered else "")
        )
        error_text = ", ".join(f"{k}: {v}" for k, v in sorted(errors.items())) or "none"
        self.stdout.write(f"errors: {sum(errors.values())} ({error_text})")
        self.stdout.write(
            f"PostgreSQL connections of the server: peak {max(during, default=0)} during the "
            f"load, {after[-1] if after else 0} {idle_seconds:.0f} s after it"
        )
        if sum(errors.values()):
            raise CommandError("the load had errors")


async def _load(base: str, token: str, total: int, concurrency: int, deadline: float):
    latencies: list[float] = []
    errors: dict[str, int] = {}
    counter = iter(range(total))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base,
        headers={"Authorization": f"Bearer {token}"},
        limits=limits,
        timeout=30.0,
    ) as client:

        async def worker() -> None:
            for n in counter:
                if time.monotonic() > deadline:
                    errors["deadline"] = errors.get("deadline", 0) + 1
                    continue
                started = time.monotonic()
                try:
                    response = await client.get(PATHS[n % len(PATHS)])
                except httpx.HTTPError as exc:
                    key = type(exc).__name__
                    errors[key] = errors.get(key, 0) + 1
                    continue
                if response.status_code >= 400:
                    key = f"HTTP {response.status_code}"
                    errors[key] = errors.get(key, 0) + 1
                else:
                    latencies.append(time.monotonic() - started)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_ready(base: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise CommandError(f"the server exited: {server.stderr.read().decode()[-2000:]}")
        try:
            httpx.get(f"{base}/api/health", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise CommandError("the server did not answer within 30 s")
