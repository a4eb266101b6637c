"""`manage.py probe <role>`: the container healthcheck of worker, beat and trader (and
web's, which can also use `/readyz`). Exit 0 when live and ready, else 1 and why."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from trading.probes import ROLES, probe_role


class Command(BaseCommand):
    help = "Check that this process's dependencies answer and that it is alive."

    def add_arguments(self, parser) -> None:
        parser.add_argument("role", choices=ROLES)
        parser.add_argument("--node", help="worker: the Celery node name (celery@<hostname>)")

    def handle(self, *args, role: str, node: str | None = None, **options) -> None:
        probe = probe_role(role, node=node)
        if not probe.ok:
            self.stderr.write(f"{role} not healthy: " + "; ".join(probe.problems))
            sys.exit(1)
        self.stdout.write(f"{role} healthy: " + ", ".join(probe.checks))
