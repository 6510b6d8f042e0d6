"""The procrastinate app: one task, ``playalter.run_item(job_id, index)``, on the ``items`` queue.

The task is idempotent per item (``runtime.ItemRuntime.run``): the store hands
out attempt numbers and only the latest attempt may record an outcome, so a
job re-delivered after its worker died never completes an item twice.
``retry_stalled`` puts back in the queue the jobs of workers whose heartbeat
is older than the lease (``queue.lease_seconds``): every worker calls it
periodically.
"""

from __future__ import annotations

import procrastinate

from ...storage import migrations
from ...storage.database import Database

QUEUE = "items"
TASK = "playalter.run_item"
RUNTIME = "playalter_runtime"  # the key of the worker's ItemRuntime in the job context


def build_app(url: str) -> procrastinate.App:
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url, min_size=1, max_size=4))

    @app.task(name=TASK, queue=QUEUE, pass_context=True)
    def run_item(context, job_id: str, index: int) -> None:
        context.additional_context[RUNTIME].run(job_id, index)

    return app


def install_schema(database: Database) -> list[int]:
    """procrastinate's tables, as migration 1 of the ``queue`` component."""
    return migrations.upgrade(database, "queue", [[procrastinate.App(
        connector=procrastinate.PsycopgConnector()).schema_manager.get_schema()]])


def queueing_lock(job_id: str, index: int) -> str:
    """At most one waiting queue job per item (procrastinate refuses a second one with this lock)."""
    return f"{job_id}:{index}"


async def enqueue(app: procrastinate.App, job_id: str, index: int) -> None:
    try:
        await app.configure_task(TASK, queue=QUEUE, queueing_lock=queueing_lock(job_id, index)).defer_async(
            job_id=job_id, index=index)
    except procrastinate.exceptions.AlreadyEnqueued:
        pass


async def retry_stalled(app: procrastinate.App, lease_seconds: float) -> int:
    """Queue again the jobs of workers silent for longer than the lease; return how many."""
    stalled = list(await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=lease_seconds, queue=QUEUE))
    for job in stalled:
        await app.job_manager.retry_job(job)
    return len(stalled)
