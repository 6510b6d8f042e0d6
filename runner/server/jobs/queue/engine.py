"""The procrastinate app: one task, ``playalter.run_item(job_id, index)``, on the ``items`` queue.

The task is idempotent per item (``runtime.ItemRuntime.run``): the store hands
out attempt numbers and only the latest attempt may record an outcome, so a
job re-delivered after its worker died never completes an item twice.
``retry_stalled`` puts back in the queue the jobs of workers whose heartbeat
is older than the lease (``queue.lease_seconds``): every worker calls it
periodically. ``retry_abandoned`` does the same for the jobs a live worker
holds but no longer runs: those whose end it could not record because the
database was away at that moment.
"""

from __future__ import annotations

import datetime

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
        runtime = context.additional_context[RUNTIME]
        with runtime.running(context.job.id):
            runtime.run(job_id, index)

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


ABANDONED = """
SELECT id FROM procrastinate_jobs j
 WHERE j.worker_id = %(worker_id)s AND j.status = 'doing' AND j.queue_name = %(queue)s
   AND NOT (j.id = ANY(%(running)s))
   AND (SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id AND e.type = 'started')
       < now() - make_interval(secs => %(seconds)s)
"""


async def retry_abandoned(app: procrastinate.App, worker_id: int, running: set[int], lease_seconds: float) -> int:
    """Queue again the jobs that worker ``worker_id`` holds ("doing") but runs no more (``running``: the ids it
    runs now), started over a lease ago: the database was away when the worker tried to record their end.
    Returns how many."""
    rows = await app.connector.execute_query_all_async(
        ABANDONED, worker_id=worker_id, queue=QUEUE, running=sorted(running), seconds=lease_seconds)
    now = datetime.datetime.now(datetime.timezone.utc)
    for row in rows:
        await app.job_manager.retry_job_by_id_async(row["id"], retry_at=now)
    return len(rows)
