"""Liveness and readiness of each process, for container healthchecks (distinct from
`/api/health`, the operator's detailed report).

- Liveness: the process itself still works — web answers HTTP (`/livez`), the trader
  ticked every symbol recently, the worker answers a broker ping, beat still schedules.
  A failing one is restarted.
- Readiness: what the process needs answers — the database (with every migration
  applied) and Redis when configured (`/readyz`). A failing one gets no traffic yet.
`manage.py probe <role>` checks both for a process that serves no HTTP.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from trading.health import FAILING, OK, SKIPPED, check_database, check_redis

#: Beat saves when it last sent each task every few minutes (django-celery-beat syncs
#: every 3 minutes): nothing sent for longer than this means it stopped scheduling.
BEAT_STALE_AFTER = timedelta(minutes=10)
ROLES = ("web", "worker", "beat", "trader")


@dataclass
class Probe:
    checks: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, name: str, ok: bool, problem: str = "") -> None:
        self.checks[name] = "ok" if ok else "failing"
        if not ok:
            self.problems.append(f"{name}: {problem}")


def _migrations_applied() -> list[str]:
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{m.app_label}.{m.name}" for m, _ in plan]


def probe_ready() -> Probe:
    probe = Probe()
    database = check_database()
    probe.add("database", database.status == OK, database.message)
    if database.status == OK:
        pending = _migrations_applied()
        probe.add("migrations", not pending, f"{len(pending)} not applied: {pending[:3]}")
    redis = check_redis()
    if redis.status != SKIPPED:
        probe.add("redis", redis.status != FAILING, redis.message)
    return probe


def probe_trader_live(probe: Probe) -> None:
    from trading.selectors import trader_heartbeats

    stale = [beat["symbol"] for beat in trader_heartbeats() if beat["stale"]]
    probe.add("ticks", not stale, f"no recent tick for {', '.join(stale)}")


def probe_beat_live(probe: Probe) -> None:
    from django_celery_beat.models import PeriodicTask

    last = (
        PeriodicTask.objects.filter(enabled=True, last_run_at__isnull=False)
        .order_by("-last_run_at")
        .values_list("last_run_at", flat=True)
        .first()
    )
    fresh = last is not None and timezone.now() - last <= BEAT_STALE_AFTER
    when = last.isoformat(timespec="seconds") if last else "never"
    probe.add("schedule", fresh, f"no task sent since {when}")


def probe_worker_live(probe: Probe, node: str | None = None) -> None:
    from xquant.celery import app

    node = node or f"celery@{socket.gethostname()}"
    try:
        replies = app.control.ping(destination=[node], timeout=3.0)
    except Exception as exc:  # the broker is down: readiness names it
        replies, problem = [], f"cannot ping through the broker ({type(exc).__name__})"
    else:
        problem = f"{node} did not answer a ping"
    probe.add("worker", any(node in reply for reply in replies), problem)


def probe_role(role: str, *, node: str | None = None) -> Probe:
    """Readiness, then the role's liveness once its dependencies answer."""
    probe = probe_ready()
    if not probe.ok or role == "web":
        return probe
    if role == "trader":
        probe_trader_live(probe)
    elif role == "beat":
        probe_beat_live(probe)
    elif role == "worker":
        probe_worker_live(probe, node)
    else:
        raise ValueError(f"role must be one of {', '.join(ROLES)} (got {role!r})")
    return probe
