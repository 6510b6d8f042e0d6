"""A queue worker: runs procrastinate's worker for the ``items`` queue with an ``ItemRuntime``, plus the
stalled-job reaper (every ``lease/3`` seconds, jobs of workers silent for a lease go back to the queue) and,
unless the process sends them already (``playalter serve``), a webhook deliverer.

Used by ``playalter worker`` and, with ``server.workers`` > 0, inside ``playalter serve`` on Postgres.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from pathlib import Path

import procrastinate
import procrastinate.worker

from ...faults import DATABASE_UNAVAILABLE, fault_of
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

RESTART_SECONDS = 2.0
PROCRASTINATE_LOGGERS = ("procrastinate.utils", "procrastinate.worker")  # where its tasks' failures are logged


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
    _quiet_lost_database_errors()
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
            await _keep_running(app, install_signal_handlers, queues=[engine.QUEUE], concurrency=concurrency,
                                name=name, additional_context={engine.RUNTIME: runtime},
                                update_heartbeat_interval=max(0.5, lease / 4), stalled_worker_timeout=lease,
                                delete_jobs="successful")
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        database.close()


class _LostDatabaseQuiet(logging.Filter):
    """procrastinate logs each of its tasks that met a lost database as an ERROR with a traceback; the outage is
    logged once already (``faults.OUTAGES``), so these become one-line warnings."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and fault_of(error) == DATABASE_UNAVAILABLE:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
        return True


def _quiet_lost_database_errors() -> None:
    for name in PROCRASTINATE_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, _LostDatabaseQuiet) for existing in logger.filters):
            logger.addFilter(_LostDatabaseQuiet())


async def _keep_running(app, install_signal_handlers: bool, **options) -> None:
    """procrastinate's worker, started again each time it stops by itself: it does when its heartbeat, LISTEN or
    abort-polling task meets a lost database, and would otherwise leave the process up but running nothing.

    SIGTERM or SIGINT (with ``install_signal_handlers``) stop it for good: the items it runs finish and are
    recorded before it returns. procrastinate stops its heartbeat first; it is kept beating here meanwhile, or the
    other workers would take the items over after ``queue.lease_seconds`` and run them again.
    """
    loop, name = asyncio.get_running_loop(), options["name"]
    stopping = asyncio.Event()
    running: asyncio.Task | None = None
    worker: procrastinate.worker.Worker | None = None
    beats: list[asyncio.Task] = []

    def stop() -> None:
        if not stopping.is_set():
            log.info("worker %s: stopping once its running items have finished", name)
            stopping.set()
            if running is not None:
                running.cancel()  # procrastinate turns a cancellation into a graceful stop
                beats.append(loop.create_task(_beat_while_stopping(app, worker, options["update_heartbeat_interval"])))

    signals = (signal.SIGINT, signal.SIGTERM) if install_signal_handlers else ()
    for signum in signals:
        loop.add_signal_handler(signum, stop)
    app.perform_import_paths()
    try:
        while not stopping.is_set():
            worker = procrastinate.worker.Worker(app=app, install_signal_handlers=False, **options)
            running = asyncio.create_task(worker.run())
            try:
                await running
            except asyncio.CancelledError:
                if not stopping.is_set():
                    raise  # the caller cancelled this task (the embedding service stops)
                return
            except (procrastinate.exceptions.ProcrastinateException, OSError) as error:
                log.warning("worker %s: the queue worker failed (%s)", name, type(error).__name__)
            if not stopping.is_set():
                log.warning("worker %s: the queue worker stopped by itself (its database connection was lost); "
                            "starting it again in %g s", name, RESTART_SECONDS)
                await asyncio.sleep(RESTART_SECONDS)
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
        for beat in beats:
            beat.cancel()


async def _beat_while_stopping(app, worker, interval: float) -> None:
    """Keep the stopping worker's heartbeat fresh until procrastinate unregisters it (``worker_id`` None)."""
    while worker.worker_id is not None:
        try:
            await app.job_manager.update_heartbeat(worker.worker_id)
        except procrastinate.exceptions.ProcrastinateException as error:
            log.warning("a stopping worker's heartbeat failed (%s)", type(error).__name__)
        await asyncio.sleep(interval)


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
