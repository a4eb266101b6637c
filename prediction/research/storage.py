"""optuna's storage: RDBStorage on the desk's own database.

Why RDB on PostgreSQL rather than JournalStorage on Redis:
- heartbeats. optuna's heartbeat (a running trial records a beat every few seconds;
  a trial whose beats stop is failed and, through RetryHeartbeatStaleTrialCallback,
  queued again with the same parameters) is implemented by RDBStorage only. That is
  what lets a study survive a worker killed mid-trial without losing or double-counting
  anything, which is an acceptance criterion.
- durability. Redis here is a broker and a cache (evictable, not backed up); a study's
  trials are research results worth keeping next to the backtests and strategy configs
  they lead to, in the database that is backed up.
- one service less to reason about: the Celery workers already hold a PostgreSQL
  connection; trial writes are a few small rows per trial, far below what PostgreSQL
  takes (the benchmark measures the whole trial loop).
The URL is the Django database's own (SQLite in embedded mode, PostgreSQL otherwise),
so the optuna tables (`studies`, `trials`, ...) sit beside the desk's and a test database
gets its own. Each process holds a small SQLAlchemy pool (2 + 2 overflow) per URL.
"""

from __future__ import annotations

import copy
import logging
import threading
import warnings
from datetime import datetime, timedelta

import optuna
from django.db import connections
from optuna.trial import TrialState
from sqlalchemy import DateTime, bindparam, text
from sqlalchemy.engine import URL

#: Seconds between a running trial's heartbeats, and the silence after which it counts
#: as dead (its worker was killed): failed, and queued again with the same parameters.
HEARTBEAT_SECONDS = 2
GRACE_SECONDS = 10

# Heartbeats with ask-and-tell are what this module is for (optuna warns they are meant
# for Study.optimize, and that the heartbeat API is experimental: the version is pinned).
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_storages: dict[str, optuna.storages.BaseStorage] = {}
_backends: dict[str, optuna.storages.RDBStorage] = {}


def storage_url() -> str:
    db = connections["default"].settings_dict
    vendor = connections["default"].vendor
    if vendor == "postgresql":
        return URL.create(
            "postgresql+psycopg",
            username=db.get("USER") or None,
            password=db.get("PASSWORD") or None,
            host=db.get("HOST") or None,
            port=int(db["PORT"]) if db.get("PORT") else None,
            database=db["NAME"],
        ).render_as_string(hide_password=False)
    if vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    raise RuntimeError(f"optuna storage: unsupported database vendor {vendor!r}")


def research_storage() -> optuna.storages.BaseStorage:
    """The process's storage for this database: RDBStorage behind optuna's own cache
    (kept across trials, so a trial reads only the trials still running, not all)."""
    url = storage_url()
    with _lock:
        storage = _storages.get(url)
        if storage is None:
            engine_kwargs = {"pool_pre_ping": True}
            if not url.startswith("sqlite"):
                engine_kwargs.update(pool_size=2, max_overflow=2)
            storage = optuna.storages.RDBStorage(
                url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=HEARTBEAT_SECONDS,
                grace_period=GRACE_SECONDS,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
                    max_retry=3
                ),
            )
            _backends[url] = storage
            storage = optuna.storages.get_storage(storage)
            _storages[url] = storage
        return storage


def research_backend() -> optuna.storages.RDBStorage:
    research_storage()
    return _backends[storage_url()]


def research_storage_close_all() -> None:
    """Dispose every engine (tests, before the test database is dropped)."""
    with _lock:
        for backend in _backends.values():
            backend.engine.dispose()
        _storages.clear()
        _backends.clear()


#: Trials of a study by state, and whether we recorded a reason (a failure without one
#: was failed by the heartbeat: its worker died). One query instead of reading every
#: trial with its attributes, which made each trial cost O(trials so far).
_COUNTS = text(
    """
    SELECT t.state,
           EXISTS (SELECT 1 FROM trial_user_attributes a
                   WHERE a.trial_id = t.trial_id AND a.key = 'reason') AS has_reason,
           COUNT(*)
    FROM trials t JOIN studies s ON s.study_id = t.study_id
    WHERE s.study_name = :name
    GROUP BY 1, 2
    """
)


def trial_state_counts(study_name: str) -> list[tuple[str, bool, int]]:
    with research_backend().engine.connect() as conn:
        rows = conn.execute(_COUNTS, {"name": study_name}).all()
    return [(str(getattr(state, "name", state)), bool(reason), int(n)) for state, reason, n in rows]


#: Running trials never beaten: their worker died between the commit that started the
#: trial and the one that recorded its first beat. optuna counts only trials with a
#: heartbeat as stale, so without this such a trial would hold its place in the budget
#: for ever (a killed worker once left a study at 199 of 200).
_UNBEATEN = text(
    """
    SELECT t.trial_id FROM trials t
    WHERE t.study_id = :study_id AND t.state = 'RUNNING' AND t.datetime_start < :started_before
      AND NOT EXISTS (SELECT 1 FROM trial_heartbeats h WHERE h.trial_id = t.trial_id)
    """
).bindparams(bindparam("started_before", type_=DateTime()))


def stale_trials_fail(ostudy: optuna.Study) -> None:
    """Fail the trials of dead workers and queue each again with its parameters: those
    whose beats stopped (optuna's fail_stale_trials) and those started more than the
    grace period ago and never beaten. optuna changes a trial's state only while it is
    still running, so of two processes failing the same trial one does, and only that
    one queues its retry."""
    optuna.storages.fail_stale_trials(ostudy)
    # optuna stamps datetime_start with the process's naive local clock; the cutoff is
    # taken on the same clock.
    started_before = datetime.now() - timedelta(seconds=GRACE_SECONDS)
    with research_backend().engine.connect() as conn:
        ids = (
            conn.execute(
                _UNBEATEN, {"study_id": ostudy._study_id, "started_before": started_before}
            )
            .scalars()
            .all()
        )
    storage = ostudy._storage
    retry = storage.get_heartbeat_stale_trial_callback()
    for trial_id in ids:
        try:
            failed = storage.set_trial_state_values(trial_id, state=TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        if not failed:
            continue
        trial = copy.deepcopy(storage.get_trial(trial_id))
        logger.warning(
            "study %s: trial %s started at %s and never beat; its worker is gone, trial failed",
            ostudy.study_name,
            trial.number,
            trial.datetime_start,
        )
        if retry is not None:
            retry(ostudy, trial)
