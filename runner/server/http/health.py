"""``GET /health`` (liveness) and ``GET /ready`` (readiness): the state of each dependency.

Checks, each bounded by ``CHECK_TIMEOUT_SECONDS`` and run off the event loop where they touch disk:

- ``databases``: the data folder is writable and the key, audit and job SQLite files open, read and take the write
  lock within a second (with a
  Postgres ``database.url``: the shared database answers a query);
- ``disk_space``: the data and log folders' filesystems have ``storage.min_free_mb`` free (below it, new work is
  refused with 507: ``storage/disk_space.py``);
- ``storage`` (Postgres only): the job folder (``<data_dir>/jobs``, shared by every replica and worker) is writable;
- ``queue`` (Postgres only): the queue's tables answer; the detail counts waiting items and live workers;
- ``rate_limit_storage``: the counter storage answers (a Redis PING; memory always does);
- ``workers``: the worker pool has room in its queue;
- ``models``: a models folder exists and can be read.

``/health`` always answers 200 while the process serves: ``status`` is ``ok`` or ``degraded``.
``/ready`` answers 200 ``ready`` or 503 ``not_ready`` (a load balancer stops sending traffic), both with
the per-check results, or 503 ``shutting_down`` once the service drains before it stops (``draining.py``).
Results name the problem, never a server path or storage address.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from contextlib import closing
from pathlib import Path

from aiohttp import web

from .... import __version__
from ....pipelines import models
from ..jobs.dispatcher import DISPATCHER
from ..route_docs import documented
from ..security.keys import keys_db_path
from ..security.ratelimit import LIMITER
from ..state import SETTINGS
from ..storage.audit_log import audit_db_path
from ..storage.disk_space import BelowReserve, DiskSpace
from .draining import DRAIN

CHECK_TIMEOUT_SECONDS = 2.0
OK = "ok"
DOWN = "down"

routes = web.RouteTableDef()


def _databases(settings, store) -> tuple[str, str]:
    data_dir = Path(settings.paths.data_dir).expanduser().resolve()
    if not os.access(data_dir, os.W_OK | os.X_OK):
        return DOWN, "the data folder is missing or not writable"
    files = []
    if store.db.postgres:
        try:
            with store.db.transaction() as tx:
                tx.execute("SELECT COUNT(*) FROM jobs").fetchone()
        except store.db.errors:
            return DOWN, "the shared database does not answer"
    else:
        files += [("keys", keys_db_path(settings, data_dir)), ("audit", audit_db_path(settings, data_dir)),
                  ("jobs", data_dir / "jobs.sqlite3")]
    for name, path in files:  # each read under the write lock the service takes, so a locked file is seen too
        try:
            with closing(sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=rw", uri=True, timeout=1.0,
                                         isolation_level=None)) as db:
                db.execute("BEGIN IMMEDIATE")
                db.execute("SELECT count(*) FROM sqlite_master").fetchone()
                db.execute("ROLLBACK")
        except sqlite3.Error:
            return DOWN, f"the {name} database is missing, unreadable, damaged or locked"
    return OK, "keys, audit and jobs databases readable and writable"


def _disk_space(disk: DiskSpace) -> tuple[str, str]:
    try:
        disk.require()
    except BelowReserve as below:
        return DOWN, f"{below.strerror}: new work is refused with 507"
    return OK, f"at least {disk.min_free_mb:g} MB free (storage.min_free_mb)"


def _storage(store) -> tuple[str, str]:
    if not os.access(store.root, os.W_OK | os.X_OK):
        return DOWN, "the job folder is missing or not writable"
    return OK, "the job folder is writable"


def _queue(pool) -> tuple[str, str]:
    try:
        pool.refresh()
    except pool.db.errors:
        return DOWN, "the job queue's tables do not answer"
    if not pool.workers:
        return OK, f"{pool.queued} queued, no live worker: items wait until one starts"
    return OK, f"{pool.queued} queued, {pool.workers} live worker(s)"


def _models() -> tuple[str, str]:
    readable = [root for root in models.models_roots() if root.is_dir() and os.access(root, os.R_OK | os.X_OK)]
    if not readable:
        return DOWN, "no models folder (paths.models_dir, PLAYALTER_MODELS_DIR or ./models) exists"
    available = sum(models.is_available(name) for name in models.REGISTRY)
    return OK, f"{available} of {len(models.REGISTRY)} models installed"


async def _rate_limit_storage(app: web.Application) -> tuple[str, str]:
    if await app[LIMITER].storage_reachable():
        return OK, "reachable"
    return DOWN, "the rate-limit storage does not answer; rate-limited requests get 503"


async def _workers(app: web.Application) -> tuple[str, str]:
    pool = app[DISPATCHER].pool
    if pool.running + pool.queued >= pool.capacity:
        return DOWN, f"the queue is full ({pool.capacity} items)"
    return OK, f"{pool.running} of {pool.workers} busy, {pool.queued} queued"


async def _bounded(check) -> dict[str, str]:
    try:
        status, detail = await asyncio.wait_for(check, CHECK_TIMEOUT_SECONDS)
    except asyncio.TimeoutError:
        status, detail = DOWN, f"no answer within {CHECK_TIMEOUT_SECONDS:g} s"
    return {"status": status, "detail": detail}


async def run_checks(app: web.Application) -> dict[str, dict[str, str]]:
    settings, dispatcher = app[SETTINGS], app[DISPATCHER]
    checks = {
        "databases": asyncio.to_thread(_databases, settings, dispatcher.store),
        "disk_space": asyncio.to_thread(_disk_space, dispatcher.store.disk),
        "rate_limit_storage": _rate_limit_storage(app),
        "workers": _workers(app),
        "models": asyncio.to_thread(_models),
    }
    if dispatcher.store.db.postgres:  # the SQLite checks cover the (local) data folder
        checks["storage"] = asyncio.to_thread(_storage, dispatcher.store)
        checks["queue"] = asyncio.to_thread(_queue, dispatcher.pool)
    results = await asyncio.gather(*(_bounded(check) for check in checks.values()))
    return dict(zip(checks, results))


@routes.get("/health", name="health")
@documented("Liveness, queue state and dependency checks", "Always public; 200 while serving, `status` ok or "
            "degraded.", tag="service", answer="the service is up", answer_schema={"type": "object"})
async def health(request: web.Request) -> web.Response:
    checks = await run_checks(request.app)
    pool = request.app[DISPATCHER].pool
    healthy = all(check["status"] == OK for check in checks.values())
    return web.json_response({
        "status": "ok" if healthy else "degraded",
        "version": __version__,
        "workers": {"total": pool.workers, "busy": pool.running},
        "queue": {"depth": pool.queued, "capacity": pool.capacity},
        "checks": checks,
    })


@routes.get("/ready", name="ready")
@documented("Readiness", "Always public; 503 `not_ready` when a dependency (databases, free disk space, "
            "rate-limit storage, workers, models folder) is down, 503 `shutting_down` while the service stops.",
            tag="service", answer="ready to serve",
            answer_schema={"type": "object"})
async def ready(request: web.Request) -> web.Response:
    if request.app[DRAIN].draining:
        return web.json_response({"status": "shutting_down", "checks": {}}, status=503)
    checks = await run_checks(request.app)
    ready = all(check["status"] == OK for check in checks.values())
    return web.json_response({"status": "ready" if ready else "not_ready", "checks": checks},
                             status=200 if ready else 503)
