"""``create_app(settings)``: the aiohttp application of the PLAYALTER service.

Middlewares, outermost first: metrics (counts and times every answer, 401 and
429 included, into Prometheus and the performance log), the drain (refuses new
requests while the service shuts down, ``draining.py``), the request guard
(body read timeout, see ``connections.py``), errors (last resort for anything
escaping the security layer), then the security layer's authentication, rate
limits and audit, then errors again, so that handler failures are JSON
responses before the audit records their outcome.

Serve it with ``connections.GuardedAppRunner`` for the header timeout and the
connection caps. Every response says ``Server: playalter``, without versions.
The app writes the service's JSON-lines logs (``logs.setup_log_files``) under
``logging.dir``, default ``<data_dir>/logs``, while it runs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from ....pipelines.core.config import Section, settings as current_settings
from ....pipelines.runtime import onnx_runtime
from ..errors import error_middleware
from ..jobs.dispatcher import DISPATCHER, Dispatcher
from ..jobs.store import JobStore
from ..jobs.direct import direct_runs
from ..jobs.workers import WorkerPool, share_cores
from ..jobs.workflows import WORKFLOWS, WorkflowCatalog
from ..logs import setup_log_files
from ..route_docs import documented, page
from ..state import SETTINGS
from ..storage.database import Database
from ..storage.disk_space import DiskSpace
from ..webhooks.deliverer import WebhookDeliverer
from ..webhooks.signing import SecretStore
from . import endpoints, health, openapi, static_files, status, video, webhooks
from .auth import DEFAULT_PUBLIC_PATHS, SECURITY, PublicPaths, require_scope, setup_security
from .connections import LIMITS, SERVER_NAME, ConnectionLimits, expectation_failed_as_json, request_guard
from .draining import DRAIN, Drain
from .metrics import METRICS, Metrics, metrics_middleware

MEGABYTE = 1 << 20


def create_app(settings: Section | None = None) -> web.Application:
    """The application for ``settings`` (default: the process settings).

    While it runs, onnxruntime sessions of the process get the cores per worker (``share_cores``).
    """
    settings = settings or current_settings()
    data_dir = Path(settings.paths.data_dir).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.database.url) if settings.database.url else None
    log_dir = Path(settings.logging.dir or data_dir / "logs")
    store = JobStore(data_dir, database, DiskSpace([data_dir, log_dir], settings.storage.min_free_mb))
    catalog = WorkflowCatalog(settings)
    if database is None:
        pool = WorkerPool(settings.server.workers, settings.server.queue_size)
    else:  # the job queue on Postgres: procrastinate and psycopg come with the scale extra
        from ..jobs.queue.dispatcher import QueuedDispatcher

        dispatcher = QueuedDispatcher(settings, store, catalog, direct=direct_runs(settings))
        pool = dispatcher.pool
    metrics = Metrics(store, pool)

    log_files = setup_log_files(log_dir)

    errors = error_middleware(settings.security.max_body_mb)
    drain = Drain()  # `serve` drains it on SIGTERM
    app = web.Application(client_max_size=int(settings.security.max_body_mb * MEGABYTE),
                          middlewares=[metrics_middleware(metrics), drain.middleware, request_guard, errors])
    app[SETTINGS] = settings
    app[WORKFLOWS] = catalog
    app[METRICS] = metrics
    app[LIMITS] = ConnectionLimits.from_settings(settings)
    app[DRAIN] = drain
    public = DEFAULT_PUBLIC_PATHS | {"/ready"} | ({"/metrics"} if settings.server.metrics_public else set())
    app[SECURITY] = security = setup_security(app, settings, data_dir, public_paths=PublicPaths(exact=public),
                                              database=database)
    if database is None:
        dispatcher = Dispatcher(settings, store, pool, catalog, audit=security.audit, direct=direct_runs(settings))
    app[DISPATCHER] = dispatcher
    app[webhooks.WEBHOOK_SECRETS] = SecretStore(store.db)
    deliverer = WebhookDeliverer(store.db, security.audit, allow_private=settings.webhooks.allow_private_targets)
    app.middlewares.append(errors)

    app.add_routes(health.routes)
    app.add_routes(endpoints.routes)
    app.add_routes(video.routes)
    app.add_routes(webhooks.routes)
    app.add_routes(status.routes)
    app.add_routes(openapi.routes)
    app.router.add_get("/metrics", _metrics, name="metrics")
    app.router.add_get("/", _index, name="index")
    app.add_routes(static_files.routes)

    async def start(app: web.Application) -> None:
        await dispatcher.start()
        embedded.append(asyncio.create_task(deliverer.run()))
        if database is None:
            share_cores(settings.server.workers, settings.server.onnx_threads)
        elif settings.server.workers > 0:  # this replica also runs items, as a queue worker would
            from ..jobs.queue.worker import run_worker

            embedded.append(asyncio.create_task(run_worker(settings, settings.server.workers,
                                                           install_signal_handlers=False, webhooks=False)))

    embedded: list[asyncio.Task] = []

    async def stop(app: web.Application) -> None:
        for task in embedded:
            task.cancel()
        await asyncio.gather(*embedded, return_exceptions=True)
        await dispatcher.stop()
        onnx_runtime.set_default_threads(0)
        metrics.close()
        store.close()
        if database is not None:
            database.close()

    async def close_logs(app: web.Application) -> None:
        log_files.close()

    app.on_startup.append(start)
    app.on_cleanup.insert(0, stop)  # before the security layer closes the audit log
    app.on_cleanup.append(close_logs)
    app.on_response_prepare.append(_server_header)
    app.on_response_prepare.append(expectation_failed_as_json)
    return app


async def _server_header(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Server"] = SERVER_NAME


@documented("Prometheus metrics", "Public when server.metrics_public is set, else needs an admin key.",
            tag="service", answer="text/plain; version=0.0.4")
async def _metrics(request: web.Request) -> web.Response:
    if not request.app[SETTINGS].server.metrics_public:
        require_scope(request, "admin")
    return await asyncio.to_thread(request.app[METRICS].render)


@page
async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(static_files.STATIC_FILES["index.html"])
