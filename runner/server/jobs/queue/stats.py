"""What the shared database says about the queue: depth, running items, live workers, throughput, orphans.

Plain SQL, no procrastinate import at load: the service's metrics import this module in every deployment,
and procrastinate (the ``scale`` extra) is only there where the queue is.
"""

from __future__ import annotations

import time

from ...storage.database import Database

THROUGHPUT_WINDOW_SECONDS = 300


class QueueView:
    """The ``pool`` of a queued dispatcher, as health and metrics read it (numbers from the last ``refresh``)."""

    def __init__(self, database: Database, settings):
        self.db = database
        self.lease = float(settings.queue.lease_seconds)
        self.capacity = int(settings.server.queue_size)
        self.queued = self.running = self.workers = 0

    def refresh(self) -> None:
        from .engine import QUEUE

        with self.db.transaction() as tx:
            self.queued = tx.execute("SELECT COUNT(*) FROM procrastinate_jobs WHERE queue_name = ? AND status = 'todo'",
                                     (QUEUE,)).fetchone()[0]
            self.running = tx.execute("SELECT COUNT(*) FROM items WHERE state = 'running'").fetchone()[0]
            self.workers = live_workers(tx, self.lease)


def live_workers(tx, lease_seconds: float) -> int:
    return tx.execute("SELECT COUNT(*) FROM procrastinate_workers"
                      " WHERE last_heartbeat > now() - make_interval(secs => ?)", (lease_seconds,)).fetchone()[0]


def throughput(database: Database) -> dict[str, float]:
    """Items finished per second by each worker over the last ``THROUGHPUT_WINDOW_SECONDS``."""
    with database.transaction() as tx:
        rows = tx.execute("SELECT worker, COUNT(*) FROM items WHERE worker IS NOT NULL AND finished_at > ?"
                          " AND state IN ('completed', 'failed') GROUP BY worker",
                          (time.time() - THROUGHPUT_WINDOW_SECONDS,)).fetchall()
    return {row[0]: row[1] / THROUGHPUT_WINDOW_SECONDS for row in rows}


def orphans(database: Database, older_than_seconds: float) -> list[tuple[str, int]]:
    """Unfinished items of jobs created over ``older_than_seconds`` ago with no waiting or running queue job: never
    enqueued (a replica died after storing the job) or dropped by the queue (a worker failed to record an
    outcome). Enqueued again, they are claimed with a new attempt (bounded by ``queue.max_attempts``)."""
    with database.transaction() as tx:
        rows = tx.execute(
            "SELECT i.job_id, i.idx FROM items i JOIN jobs j ON j.id = i.job_id"
            " WHERE i.state IN ('queued', 'running') AND j.created_at < ? AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs p"
            " WHERE p.queueing_lock = i.job_id || ':' || i.idx AND p.status IN ('todo', 'doing'))",
            (time.time() - older_than_seconds,)).fetchall()
    return [(row[0], row[1]) for row in rows]
