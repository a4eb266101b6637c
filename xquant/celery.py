from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_process_shutdown, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xquant.settings")

app = Celery("xquant")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _serve_metrics(**kwargs) -> None:
    """The worker's metrics on METRICS_PORT (docs/operations.md "Metrics"), from its main process:
    with PROMETHEUS_MULTIPROC_DIR it sums what the pool's children recorded."""
    from xquant.metrics import exporter_start

    exporter_start()


@worker_process_shutdown.connect
def _forget_child_metrics(pid=None, **kwargs) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())
