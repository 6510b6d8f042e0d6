"""A queue worker: runs procrastinate's worker for the ``items`` queue with an ``ItemRuntime``, plus the
stalled-job reaper (every ``lease/3`` seconds, jobs of workers silent for a lease go back to the queue) and,
unless the process sends them already (``playalter serve``), a webhook deliverer.

Used by ``playalter worker`` and, with ``server.workers`` > 0, inside ``playalter serve`` on Postgres.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from pathlib import Path

from ...storage.audit_log import AuditLog
from ...storage.database import Database
from ...webhooks.deliverer import WebhookDeliverer
from ..store import JobStore
from ..video_jobs import direct_runs
from ..workers import share_cores
from ..workflows import WorkflowCatalog
from . import engine
from .runtime import ItemRuntime

log = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


async def run_worker(settings, concurrency: int, *, install_signal_handlers: bool = True,
                     webhooks: bool = True) -> None:
    url = settings.database.url
    lease = float(settings.queue.lease_seconds)
    data_dir = Path(settings.paths.data_dir).expanduser().resolve()
    database = Database(url)
    audit = AuditLog(database, settings.security.audit_checkpoint_secret)
    store = JobStore(data_dir, database)
    await asyncio.to_thread(engine.install_schema, database)
    name = worker_name()
    runtime = ItemRuntime(settings, database, store, audit, WorkflowCatalog(settings), name, direct_runs(settings))
    share_cores(concurrency, settings.server.onnx_threads)
    app = engine.build_app(url)
    background: list[asyncio.Task] = []
    try:
        async with app.open_async():
            background.append(asyncio.create_task(_reap(app, lease)))
            if webhooks:
                deliverer = WebhookDeliverer(database, audit, allow_private=settings.webhooks.allow_private_targets)
                background.append(asyncio.create_task(deliverer.run()))
            log.info("worker %s: %d item(s) at a time", name, concurrency)
            await app.run_worker_async(queues=[engine.QUEUE], concurrency=concurrency, name=name,
                                       additional_context={engine.RUNTIME: runtime},
                                       update_heartbeat_interval=max(0.5, lease / 4), stalled_worker_timeout=lease,
                                       install_signal_handlers=install_signal_handlers, delete_jobs="successful")
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        database.close()


async def _reap(app, lease: float) -> None:
    while True:
        try:
            retried = await engine.retry_stalled(app, lease)
            if retried:
                log.warning("re-queued %d item(s) of worker(s) silent for over %g s", retried, lease)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("the stalled-job check failed (%s)", type(error).__name__)
        await asyncio.sleep(lease / 3)
