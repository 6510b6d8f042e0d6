"""``create_app(settings)``: the aiohttp application of the PLAYALTER service.

Middlewares, outermost first: metrics (counts every answer, 401 and 429
included), errors (last resort for anything escaping the security layer),
then the security layer's authentication, rate limits and audit, then errors
again, so that handler failures are JSON responses before the audit records
their outcome.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from ...pipelines import onnx_runtime
from ...pipelines.config import Section, settings as current_settings
from . import endpoints, openapi, status
from .auth import require_scope, setup_security
from .dispatcher import Dispatcher
from .errors import error_middleware
from .jobs import JobStore
from .metrics import Metrics, metrics_middleware
from .state import DISPATCHER, METRICS, SECURITY, SETTINGS, WORKFLOWS
from .workers import WorkerPool, share_cores
from .workflows import WorkflowCatalog

STATIC_DIR = Path(__file__).resolve().parent / "static"
MEGABYTE = 1 << 20


def create_app(settings: Section | None = None) -> web.Application:
    """The application for ``settings`` (default: the process settings).

    While it runs, onnxruntime sessions of the process get the cores per worker (``share_cores``).
    """
    settings = settings or current_settings()
    data_dir = Path(settings.paths.data_dir).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    store = JobStore(data_dir)
    pool = WorkerPool(settings.server.workers, settings.server.queue_size)
    catalog = WorkflowCatalog(settings)
    metrics = Metrics(store, pool)

    app = web.Application(client_max_size=int(settings.security.max_body_mb * MEGABYTE),
                          middlewares=[metrics_middleware(metrics), error_middleware])
    app[SETTINGS] = settings
    app[WORKFLOWS] = catalog
    app[METRICS] = metrics
    app[SECURITY] = security = setup_security(app, settings, data_dir)
    app[DISPATCHER] = dispatcher = Dispatcher(settings, store, pool, catalog, audit=security.audit)
    app.middlewares.append(error_middleware)

    app.add_routes(endpoints.routes)
    app.add_routes(status.routes)
    app.add_routes(openapi.routes)
    app.router.add_get("/metrics", _metrics, name="metrics")
    app.router.add_get("/", _index, name="index")
    app.router.add_static("/static/", STATIC_DIR, name="static")

    async def start(app: web.Application) -> None:
        share_cores(settings.server.workers, settings.server.onnx_threads)
        await dispatcher.start()

    async def stop(app: web.Application) -> None:
        await dispatcher.stop()
        onnx_runtime.set_default_threads(0)
        metrics.close()
        store.close()

    app.on_startup.append(start)
    app.on_cleanup.insert(0, stop)  # before the security layer closes the audit log
    return app


async def _metrics(request: web.Request) -> web.Response:
    if not request.app[SETTINGS].server.metrics_public:
        require_scope(request, "admin")
    return request.app[METRICS].render()


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html")
