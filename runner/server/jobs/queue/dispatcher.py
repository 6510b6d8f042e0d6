"""The dispatcher of an API replica in a multi-process deployment: admit, enqueue, report; never execute.

Same interface as ``dispatcher.Dispatcher`` (the endpoints do not know which one they talk to). ``submit`` checks the
workflow and bindings, refuses work while ``server.queue_size`` items already wait (``QueueFull``; the items this
replica is admitting count too until they are enqueued, so a burst of concurrent submissions cannot all pass the
check: it may be refused a little early, never late; replicas admitting at the same instant can each fill the rest
once), stores the job (Postgres) and its inputs (the shared ``paths.data_dir``; a video upload is streamed into its
staging folder and moved into the job), and defers one procrastinate job per item. A video job (``direct``) is an item
like any other: a worker runs its pipeline. Events from workers arrive through ``events.Listener`` and go to this
replica's SSE subscribers; ``wait`` and the job slots also re-read the job every ``POLL_SECONDS``, so a lost
notification (a database restart) only delays them. Every ``SWEEP_SECONDS`` a replica deletes expired jobs and staged
uploads a killed replica left behind (untouched since well past ``server.body_timeout_seconds``), and re-enqueues
unfinished items that have no queue job (a replica killed between storing a job and enqueueing it, a worker that could
not record an outcome), so admitted work is never lost.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Awaitable, Callable

import procrastinate

from .....pipelines.core.config import Section
from ..dispatcher import check_bindings, create_admitted, earlier_job
from ..item_runs import DirectRun, workflow_prompt
from ..listeners import JobListeners
from ..operations import Plan
from ..store import Job, JobStore
from ..workers import QueueFull
from ..workflows import WorkflowCatalog
from . import engine, stats
from .events import Listener

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0
SWEEP_SECONDS = 10.0
ORPHAN_SECONDS = 30.0  # an item queued in the store this long without a queue job is enqueued again
UPLOAD_GRACE_SECONDS = 300.0  # a staged upload is deleted this long after its body had to have arrived


class QueuedDispatcher:
    def __init__(self, settings: Section, store: JobStore, catalog: WorkflowCatalog,
                 direct: dict[str, DirectRun] | None = None):
        self.store = store
        self.catalog = catalog
        self.direct = dict(direct or {})  # run by the workers; here only told apart from saved workflows
        self.settings = settings
        self.url = settings.database.url
        self.input_dir = Path(settings.paths.input_dir).resolve()
        self.ttl = float(settings.server.result_ttl_seconds)
        self.stale_upload_seconds = float(settings.server.body_timeout_seconds) + UPLOAD_GRACE_SECONDS
        self.pool = stats.QueueView(store.db, settings)
        self.app = engine.build_app(self.url)
        self.listeners = JobListeners()  # the SSE streams of this replica
        self._finish_callbacks: dict[str, list[Callable[[], None]]] = {}
        self._done: dict[str, asyncio.Event] = {}
        self._tasks: list[asyncio.Task] = []
        self._admitting = 0  # items of this replica's submissions between the queue check and their enqueueing
        self.listener = Listener(self.url, self._deliver)

    # --- life cycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        await asyncio.to_thread(engine.install_schema, self.store.db)
        await self.app.open_async()
        self._tasks = [asyncio.create_task(self.listener.run()), asyncio.create_task(self._sweep())]
        await asyncio.wait_for(self.listener.connected.wait(), 10.0)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.app.close_async()

    # --- submitting ----------------------------------------------------------------------------

    async def submit(self, *, key_id: str | None, operation: str, plan: Plan,
                     item_images: list[dict[str, bytes | Path]],
                     idempotency_key: str | None = None, request_hash: str | None = None,
                     admit: Callable[[], Awaitable[None]] | None = None,
                     webhook_url: str | None = None) -> tuple[Job, bool]:
        earlier = await earlier_job(self.store, key_id, idempotency_key, request_hash)
        if earlier is not None:
            return earlier, False
        prompt = await asyncio.to_thread(workflow_prompt, self.catalog, self.direct, plan.workflow)
        if prompt is not None:  # a direct run's request was checked by its endpoint
            await asyncio.to_thread(check_bindings, prompt, plan, item_images[0], self.input_dir)
        await asyncio.to_thread(self.pool.refresh)
        if self.pool.queued + self._admitting + len(item_images) > self.pool.capacity:
            raise QueueFull(max(1, int(POLL_SECONDS * 5)))
        self._admitting += len(item_images)  # counted from the check on: submissions racing in see them
        try:
            job, created = await create_admitted(
                self.store, admit, key_id=key_id, operation=operation, plan=plan, item_images=item_images,
                idempotency_key=idempotency_key, request_hash=request_hash, webhook_url=webhook_url)
            if created:
                self._done.setdefault(job.id, asyncio.Event())
                for item in job.items:
                    await engine.enqueue(self.app, job.id, item.index)
        finally:
            self._admitting -= len(item_images)
        return job, created

    # --- following and controlling jobs ----------------------------------------------------------

    async def wait(self, job: Job) -> Job:
        done = self._done.setdefault(job.id, asyncio.Event())
        while True:
            current = await asyncio.to_thread(self.store.get, job.id)
            if current is None or current.finished:
                return current
            try:
                await asyncio.wait_for(done.wait(), POLL_SECONDS)
            except asyncio.TimeoutError:
                pass

    def on_finished(self, job_id: str, callback: Callable[[], None]) -> None:
        self._finish_callbacks.setdefault(job_id, []).append(callback)

    def is_active(self, job_id: str) -> bool:
        """Any unfinished job is active: a worker somewhere runs or will run it."""
        return True

    async def cancel(self, job: Job) -> Job:
        updated = await asyncio.to_thread(self.store.cancel, job.id, self.ttl)  # workers poll cancel_requested
        if updated.finished:
            self._settled(updated)
        return updated

    # --- events --------------------------------------------------------------------------------

    def _deliver(self, job_id: str, event: str, data: dict[str, Any]) -> None:
        if event == "done":
            asyncio.get_running_loop().create_task(self._finish(job_id))
            return
        self.listeners.publish(job_id, event, data)

    async def _finish(self, job_id: str) -> None:
        job = await asyncio.to_thread(self.store.get, job_id)
        if job is not None and job.finished:
            self._settled(job)

    def _settled(self, job: Job) -> None:
        self.listeners.publish(job.id, "done", job.to_dict())
        self.listeners.close(job.id)
        self._done.pop(job.id, asyncio.Event()).set()
        for callback in self._finish_callbacks.pop(job.id, []):
            callback()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                for job_id in set(self._finish_callbacks) | self.listeners.job_ids() | set(self._done):
                    await self._finish(job_id)  # settles jobs whose "done" notification was lost
                deleted = await asyncio.to_thread(self.store.delete_expired)
                if deleted:
                    log.info("deleted %d expired job(s)", deleted)
                dropped = await asyncio.to_thread(self.store.delete_stale_uploads, self.stale_upload_seconds)
                if dropped:
                    log.info("deleted %d upload(s) cut off before their job existed", dropped)
                for job_id, index in await asyncio.to_thread(stats.orphans, self.store.db, ORPHAN_SECONDS):
                    await engine.enqueue(self.app, job_id, index)
            except (procrastinate.exceptions.ProcrastinateException, *self.store.db.errors) as error:
                log.warning("the queue sweep failed (%s); retrying in %g s", type(error).__name__, SWEEP_SECONDS)
