"""What a worker process does with one queued item (``ItemRuntime.run``, called by the procrastinate task).

1. ``store.claim``: the item becomes ``running`` under a new attempt number (an item already ended is left
   alone: a re-delivered job is a no-op; one that has had ``queue.max_attempts`` tries is failed, with the
   reason).
2. The workflow, or the direct run (a video pipeline, on the upload in the shared data folder), runs with the
   same code as the in-process pool (``item_runs.ItemRunner``), stopped when the job is cancelled from any
   replica (``jobs.cancel_requested``, polled every ``CANCEL_POLL_SECONDS``) or after its time limit
   (``server.job_timeout_seconds``; ``video.job_timeout_seconds`` for a video).
3. The outcome and the item's audit row are written in one transaction, only if this attempt still holds the
   item: an item is completed, and audited, exactly once. While the database restarts, the write is retried.
4. Events go out through NOTIFY to the SSE streams of every replica (an item's progress at most every
   ``events.PROGRESS_SECONDS``).

Models stay loaded between items: the worker is a long-lived process and the executor keeps its sessions.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ...storage.audit_log import AuditLog
from ...storage.database import Database
from ..item_runs import DirectRun, ItemRunner, Outcome, workflow_prompt
from ..store import Job, JobStore
from ..workflows import WorkflowCatalog
from .events import ProgressThrottle, notify

CANCEL_POLL_SECONDS = 1.0
PERSIST_SECONDS = 120.0

log = logging.getLogger(__name__)


class ItemRuntime:
    def __init__(self, settings, database: Database, store: JobStore, audit: AuditLog,
                 catalog: WorkflowCatalog, worker_name: str, direct: dict[str, DirectRun]):
        self.db = database
        self.store = store
        self.audit = audit
        self.catalog = catalog
        self.direct = direct
        self.worker_name = worker_name
        self.max_attempts = int(settings.queue.max_attempts)
        self.ttl = float(settings.server.result_ttl_seconds)
        self.items = ItemRunner(store, direct, input_dir=Path(settings.paths.input_dir).resolve(),
                                timeout=float(settings.server.job_timeout_seconds))
        self._running: set[int] = set()  # the queue jobs (procrastinate ids) this process runs now
        self._running_lock = threading.Lock()

    @contextmanager
    def running(self, queue_job_id: int) -> Iterator[None]:
        """Marks queue job ``queue_job_id`` as running in this process while the block runs."""
        with self._running_lock:
            self._running.add(queue_job_id)
        try:
            yield
        finally:
            with self._running_lock:
                self._running.discard(queue_job_id)

    def running_now(self) -> set[int]:
        with self._running_lock:
            return set(self._running)

    def run(self, job_id: str, index: int) -> None:
        attempt = self.store.claim(job_id, index, self.max_attempts, self.ttl, worker=self.worker_name)
        if attempt is None:  # ended already (a re-delivery), or given up after too many attempts
            job = self.store.get(job_id)
            if job is not None and job.items[index].state == "failed":
                self._notify(job_id, "item", {"index": index, "state": "failed", "error": job.items[index].error})
            if job is not None and job.finished:
                self._notify(job_id, "done", {})
            return
        job = self.store.get(job_id)

        def record(outcome: Outcome) -> Job | None:
            def audit_row(tx) -> None:
                self.audit.append_in(tx, **outcome.audit)

            updated = self._persist(lambda: self.store.finish_item(
                job_id, index, result=outcome.result, error=outcome.error, state=outcome.state,
                ttl_seconds=self.ttl, attempt=attempt, also=audit_row))
            if updated is None:
                log.warning("job %s item %d: attempt %d was superseded; its outcome is dropped", job_id, index, attempt)
            return updated

        emit = ProgressThrottle(lambda event, data: self._notify(job_id, event, data))
        with self._cancel_watch(job_id) as cancel:
            try:
                updated = self.items.run(job, job.items[index],
                                         lambda: workflow_prompt(self.catalog, self.direct, job.workflow),
                                         cancel=cancel, emit=emit, record=record)
            finally:
                emit.flush()  # a progress event still held back when no item event followed it
        if updated is not None and updated.finished:
            self._notify(job_id, "done", {})

    def _persist(self, write):
        """``write()``, retried while the database is unreachable (a restart): the outcome of a finished run is
        not thrown away. Gives up after ``PERSIST_SECONDS``: the queue job fails, and the API replicas' sweep enqueues the
        item again (``stats.orphans``)."""
        deadline = time.monotonic() + PERSIST_SECONDS
        while True:
            try:
                return write()
            except self.db.errors as error:
                if time.monotonic() > deadline:
                    raise
                log.warning("recording an outcome failed (%s); retrying", type(error).__name__)
                time.sleep(1.0)

    @contextmanager
    def _cancel_watch(self, job_id: str) -> Iterator[threading.Event]:
        """An event set once the job is cancelled from any replica, polled while the block runs."""
        cancel, finished = threading.Event(), threading.Event()
        threading.Thread(target=self._watch_cancel, args=(job_id, cancel, finished), daemon=True).start()
        try:
            yield cancel
        finally:
            finished.set()

    def _watch_cancel(self, job_id: str, cancel: threading.Event, finished: threading.Event) -> None:
        while not finished.wait(CANCEL_POLL_SECONDS):
            try:
                if self.store.cancel_requested(job_id):
                    cancel.set()
                    return
            except self.db.errors:
                log.warning("job %s: cannot check for cancellation (database unavailable)", job_id)

    def _notify(self, job_id: str, event: str, data: dict) -> None:
        try:
            notify(self.db, job_id, event, data)
        except self.db.errors:  # progress is best effort; the outcome is in the database
            log.warning("job %s: could not publish a %s event", job_id, event)
