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

from ...storage.audit_log import AuditLog
from ...storage.database import Database
from ...webhooks.deliverer import WebhookDeliverer
from ..store import JobStore
from ..direct import direct_runs
from ..workers import share_cores
from ..workflows import WorkflowCatalog
from . import engine
from .runtime import ItemRuntime

log = logging.getLogger(__name__)

RESTART_SECONDS = 2.0


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
            await _keep_running(app, install_signal_handlers, queues=[engine.QUEUE], concurrency=concurrency,
                                name=name, additional_context={engine.RUNTIME: runtime},
                                update_heartbeat_interval=max(0.5, lease / 4), stalled_worker_timeout=lease,
                                delete_jobs="successful")
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        database.close()


async def _keep_running(app, install_signal_handlers: bool, **options) -> None:
    """procrastinate's worker, started again each time it stops by itself: it does when its heartbeat, LISTEN or
    abort-polling task meets a lost database, and would otherwise leave the process up but running nothing.

    SIGTERM or SIGINT (with ``install_signal_handlers``) stop it for good: the items it runs finish and are
    recorded before it returns. procrastinate's own heartbeat stops at the first failure and before a graceful
    stop waits for the items; ``_beat`` keeps the worker's heartbeat beside it for the worker's whole life, or the
    other workers (and this one's reaper) would take its running items over after ``queue.lease_seconds``.
    """
    loop, name, interval = asyncio.get_running_loop(), options["name"], options["update_heartbeat_interval"]
    runtime, lease = options["additional_context"][engine.RUNTIME], options["stalled_worker_timeout"]
    stopping = asyncio.Event()
    running: asyncio.Task | None = None

    def stop() -> None:
        if not stopping.is_set():
            log.info("worker %s: stopping once its running items have finished", name)
            stopping.set()
            if running is not None:
                running.cancel()  # procrastinate turns a cancellation into a graceful stop

    signals = (signal.SIGINT, signal.SIGTERM) if install_signal_handlers else ()
    for signum in signals:
        loop.add_signal_handler(signum, stop)
    app.perform_import_paths()
    try:
        while not stopping.is_set():
            worker = procrastinate.worker.Worker(app=app, install_signal_handlers=False, **options)
            running = asyncio.create_task(worker.run())
            beat = asyncio.create_task(_beat(app, worker, interval, runtime, lease))
            try:
                await running
            except asyncio.CancelledError:
                if not stopping.is_set():
                    raise  # the caller cancelled this task (the embedding service stops)
                return
            except (procrastinate.exceptions.ProcrastinateException, OSError) as error:
                log.warning("worker %s: the queue worker failed (%s)", name, type(error).__name__)
            finally:
                beat.cancel()
            if not stopping.is_set():
                log.warning("worker %s: the queue worker stopped by itself (its database connection was lost); "
                            "starting it again in %g s", name, RESTART_SECONDS)
                await asyncio.sleep(RESTART_SECONDS)
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)


async def _beat(app, worker: procrastinate.worker.Worker, interval: float, runtime: ItemRuntime,
                lease: float) -> None:
    """Refresh the worker's heartbeat every ``interval`` s while it is registered, through database outages, and
    queue again the items it holds but runs no more (``engine.retry_abandoned``): a live worker is never
    "stalled", so nothing else would take them."""
    while True:
        await asyncio.sleep(interval)
        if worker.worker_id is None:
            continue
        try:
            await app.job_manager.update_heartbeat(worker.worker_id)
            retried = await engine.retry_abandoned(app, worker.worker_id, runtime.running_now(), lease)
        except procrastinate.exceptions.ProcrastinateException:
            continue  # the database is away: the outage is logged once elsewhere, and the next beat tries again
        if retried:
            log.warning("re-queued %d item(s) whose end could not be recorded (the database was away)", retried)


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
