"""Accepting jobs, running their items on the worker pool, and telling listeners how they go.

A job names a saved workflow, or one of the ``direct`` runs the dispatcher was
given (the video pipelines, ``video_jobs.py``), which get the paths of their
input files rather than their bytes and their own time limit.
``submit`` checks the workflow and bindings once (a bad parameter is a 400
before anything is queued), reserves queue room for every item (or raises
``QueueFull``), stores the job with its inputs, then schedules each item. Items
run on worker threads through ``item_runs.ItemRunner`` (the code queue workers
run too); each one is stopped at its next cancellation check once
``server.job_timeout_seconds`` have passed.
Each item's outcome is recorded in the job store, then appended to the audit
log (``job.<operation>`` rows). When that fails on a fault (a full disk, a
database outage: ``faults.py``), whoever waits for the job is answered 507 or
503 at once, and the item is recorded as failed, with its audit row, as soon
as the store can write again (retried every ``RECORD_RETRY_SECONDS``).
Progress goes to subscribers (the SSE endpoint) as events:

    {"event": "item", "data": {"index", "state", "error"?}}
    {"event": "progress", "data": {"index", "node_id", "class_type", "nodes_done", "nodes_total", "value", "max"}}
    {"event": "progress", "data": {"index", "frames_done", "frames_total", "fps", "value", "max"}}  (video)
    {"event": "done", "data": <the job, as GET /api/jobs/{id} returns it>}
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Awaitable, Callable

from aiohttp import web

from ....pipelines.core.config import Section
from ...engine.executor import validate
from ..errors import ApiError
from ..faults import FaultAnswer, fault_answer
from ..storage.audit_log import AuditLog
from .item_runs import DirectRun, ItemRunner, Outcome, audit_entry, workflow_prompt
from .listeners import JobListeners
from .operations import Plan
from .runs import describe_error
from .store import IdempotencyConflict, Item, Job, JobStore
from .workers import WorkerPool
from .workflows import WorkflowCatalog

log = logging.getLogger(__name__)

SWEEP_SECONDS = 60.0
RECORD_RETRY_SECONDS = 2.0


@contextmanager
def idempotency_conflict():
    try:
        yield
    except IdempotencyConflict:
        raise ApiError(409, "idempotency_key_reused",
                       "this Idempotency-Key was already used for a different request") from None


async def earlier_job(store: JobStore, key_id: str | None, idempotency_key: str | None,
                      request_hash: str | None) -> Job | None:
    """The job an earlier request with this idempotency key created (ApiError 409 when its body differed)."""
    if idempotency_key is None:
        return None
    with idempotency_conflict():
        return await asyncio.to_thread(store.find_idempotent, key_id, idempotency_key, request_hash)


async def create_admitted(store: JobStore, admit: Callable[[], Awaitable[None]] | None, *, key_id: str | None,
                          operation: str, plan: Plan, item_images: list[dict[str, bytes | Path]],
                          idempotency_key: str | None, request_hash: str | None,
                          webhook_url: str | None) -> tuple[Job, bool]:
    """The last step of every submission, in-process or queued: ``admit`` (which may refuse), then the job's
    row; (job, created), created False when the same idempotency key raced in from another request."""
    if admit is not None:
        await admit()
    with idempotency_conflict():
        return await asyncio.to_thread(
            store.create, key_id=key_id, operation=operation, workflow=plan.workflow, plan=plan.to_dict(),
            item_images=item_images, idempotency_key=idempotency_key, request_hash=request_hash,
            webhook_url=webhook_url)


def check_bindings(prompt: dict, plan: Plan, images: dict[str, bytes], input_dir: Path) -> None:
    """Validate a workflow with a job's bindings before it is queued: invalid input is ApiError 400."""
    try:
        validate(prompt, bindings={**plan.bindings, **images}, input_dir=input_dir)
    except Exception as error:
        described = describe_error(error)
        if described["code"] == "internal_error":
            raise
        raise ApiError(400, described["code"], described["message"], details=described.get("details")) from None


class Dispatcher:
    def __init__(self, settings: Section, store: JobStore, pool: WorkerPool, catalog: WorkflowCatalog,
                 audit: AuditLog | None = None, direct: dict[str, DirectRun] | None = None):
        self.store = store
        self.direct = dict(direct or {})
        self.audit = audit
        self.pool = pool
        self.catalog = catalog
        self.input_dir = Path(settings.paths.input_dir).resolve()
        self.items = ItemRunner(store, self.direct, input_dir=self.input_dir,
                                timeout=float(settings.server.job_timeout_seconds))
        self.ttl = float(settings.server.result_ttl_seconds)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.listeners = JobListeners()  # the SSE streams
        self._finished: dict[str, asyncio.Event] = {}
        self._unrecorded: dict[str, FaultAnswer] = {}  # jobs whose item outcome waits for the store to write
        self._cancel_events: dict[str, list[threading.Event]] = {}
        self._finish_callbacks: dict[str, list[Callable[[], None]]] = {}
        self._tasks: set[asyncio.Task] = set()
        self._sweeper: asyncio.Task | None = None

    # --- life cycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Resume the jobs a previous process left unfinished, and start the retention sweeper."""
        self._loop = asyncio.get_running_loop()
        resumed = await asyncio.to_thread(self.store.recover, self.ttl)
        jobs: dict[str, Job] = {}
        for item in resumed:
            if item.job_id not in jobs:
                jobs[item.job_id] = await asyncio.to_thread(self.store.get, item.job_id)
        for job in jobs.values():
            items = [item for item in resumed if item.job_id == job.id]
            try:
                prompt = await asyncio.to_thread(self._load, job.workflow)
            except ApiError as error:
                for item in items:
                    await asyncio.to_thread(self.store.finish_item, job.id, item.index, ttl_seconds=self.ttl,
                                            error={"code": error.code, "message": error.message})
                continue
            log.info("resuming job %s (%d item(s)) after a restart", job.id, len(items))
            self.pool.reserve(len(items), force=True)
            self._schedule(job, items, prompt)
        self._sweeper = asyncio.create_task(self._sweep())

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for events in self._cancel_events.values():
            for event in events:
                event.set()
        self.pool.shutdown()

    # --- submitting ----------------------------------------------------------------------------

    async def submit(self, *, key_id: str | None, operation: str, plan: Plan,
                     item_images: list[dict[str, bytes | Path]],
                     idempotency_key: str | None = None, request_hash: str | None = None,
                     admit: Callable[[], Awaitable[None]] | None = None,
                     webhook_url: str | None = None) -> tuple[Job, bool]:
        """Queue a job of one item per entry of ``item_images``; return (job, created).

        ``admit`` is awaited once the job passed every check and has room in the queue, just before it is
        created (the endpoints charge the rate limit there, so that refused work costs nothing); it may raise
        to refuse the job. A replay of an idempotent request is not admitted again.
        Raises ApiError (unknown workflow 404, invalid bindings 400, idempotency
        conflict 409), QueueFull, or what ``admit`` raised.
        """
        earlier = await earlier_job(self.store, key_id, idempotency_key, request_hash)
        if earlier is not None:  # a replay gets its job back, even when the queue is full
            return earlier, False
        prompt = await asyncio.to_thread(self._load, plan.workflow)
        if prompt is not None:  # a direct run's request was checked by its endpoint
            await asyncio.to_thread(check_bindings, prompt, plan, item_images[0], self.input_dir)
        self.pool.reserve(len(item_images))
        try:
            job, created = await create_admitted(
                self.store, admit, key_id=key_id, operation=operation, plan=plan, item_images=item_images,
                idempotency_key=idempotency_key, request_hash=request_hash, webhook_url=webhook_url)
        except BaseException:
            self.pool.release(len(item_images))
            raise
        if created:
            self._schedule(job, job.items, prompt)
        else:  # the same idempotency key raced in from another request
            self.pool.release(len(item_images))
        return job, created

    def _load(self, workflow: str) -> dict | None:
        return workflow_prompt(self.catalog, self.direct, workflow)

    def _schedule(self, job: Job, items: list[Item], prompt: dict | None) -> None:
        self._finished.setdefault(job.id, asyncio.Event())
        events = self._cancel_events.setdefault(job.id, [])
        for item in items:
            cancel = threading.Event()
            events.append(cancel)
            task = asyncio.create_task(self._run(job, item, prompt, cancel))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, job: Job, item: Item, prompt: dict | None, cancel: threading.Event) -> None:
        started = time.perf_counter()
        try:
            updated = await self.pool.run(self._work, job, item, prompt, cancel)
        except Exception as error:
            updated = await self._record_failure(job, item, error, started)
        if updated is not None and updated.finished:
            self._settled(updated)

    async def _record_failure(self, job: Job, item: Item, error: Exception, started: float) -> Job | None:
        """Record an item that failed outside its run (its outcome could not be stored), with its audit row.

        A fault (full disk, database outage) is retried every ``RECORD_RETRY_SECONDS`` until it ends; whoever
        waits for the job is answered meanwhile. Anything else is a bug: logged, the item left to ``recover``.
        """
        answer = fault_answer(error)
        if answer is None:
            log.exception("job %s item %d: the worker failed outside the run", job.id, item.index)
        failure = ({"code": answer.code, "message": answer.message} if answer is not None else
                   {"code": "internal_error", "message": "processing failed unexpectedly; it has been logged"})
        updated = None
        while True:
            try:
                if updated is None:
                    updated = await asyncio.to_thread(self.store.finish_item, job.id, item.index,
                                                      ttl_seconds=self.ttl, error=failure)
                if self.audit is not None:
                    await asyncio.to_thread(self.audit.append, **audit_entry(job, item.index, [], failure, started))
                return updated
            except Exception as unrecorded:
                answer = fault_answer(unrecorded)
                if answer is None:
                    log.exception("job %s item %d: its failure could not be recorded", job.id, item.index)
                    return None
                self._answer_now(job.id, answer)
                await asyncio.sleep(RECORD_RETRY_SECONDS)

    def _answer_now(self, job_id: str, answer: FaultAnswer) -> None:
        """Wake whoever waits for the job: it is answered ``answer`` before the job has its final state."""
        self._unrecorded[job_id] = answer
        finished = self._finished.get(job_id)
        if finished is not None:
            finished.set()

    def _work(self, job: Job, item: Item, prompt: dict | None, cancel: threading.Event) -> Job | None:
        """On a worker thread: run one item and record its outcome; return the job as it then stands."""
        if not self.store.start_item(job.id, item.index):
            return None  # cancelled while it waited

        def record(outcome: Outcome) -> Job:
            updated = self.store.finish_item(job.id, item.index, result=outcome.result, error=outcome.error,
                                             state=outcome.state, ttl_seconds=self.ttl)  # deletes the inputs
            if self.audit is not None:
                self.audit.append(**outcome.audit)
            return updated

        return self.items.run(job, item, lambda: prompt, cancel=cancel,
                              emit=lambda event, data: self._emit(job.id, event, data), record=record)

    def _settled(self, job: Job) -> None:
        self._unrecorded.pop(job.id, None)
        self._publish(job.id, "done", job.to_dict())
        self._finished.pop(job.id, asyncio.Event()).set()
        self._cancel_events.pop(job.id, None)
        for callback in self._finish_callbacks.pop(job.id, []):
            callback()
        self.listeners.close(job.id)

    # --- following and controlling jobs ----------------------------------------------------------

    async def wait(self, job: Job) -> Job:
        """The job once it has finished; ApiError 507 or 503 when its outcome cannot be stored (a fault)."""
        if not job.finished:
            finished = self._finished.get(job.id)
            if finished is not None:
                await finished.wait()
            unrecorded = self._unrecorded.get(job.id)
            if unrecorded is not None:
                raise ApiError(unrecorded.status, unrecorded.code, unrecorded.message, headers=unrecorded.headers)
        return await asyncio.to_thread(self.store.get, job.id)

    def on_finished(self, job_id: str, callback: Callable[[], None]) -> None:
        """Call ``callback()`` on the event loop once the job has finished (at once if it has)."""
        if job_id in self._finished:
            self._finish_callbacks.setdefault(job_id, []).append(callback)
        else:
            callback()

    def is_active(self, job_id: str) -> bool:
        return job_id in self._finished

    async def cancel(self, job: Job) -> Job:
        for event in self._cancel_events.get(job.id, []):
            event.set()
        updated = await asyncio.to_thread(self.store.cancel, job.id, self.ttl)
        if updated.finished:
            self._settled(updated)
        return updated

    def _emit(self, job_id: str, event: str, data: dict[str, Any]) -> None:
        """From any thread: deliver an event on the event loop."""
        self._loop.call_soon_threadsafe(self._publish, job_id, event, data)

    def _publish(self, job_id: str, event: str, data: dict[str, Any]) -> None:
        self.listeners.publish(job_id, event, data)

    async def _sweep(self) -> None:
        while True:
            try:
                deleted = await asyncio.to_thread(self.store.delete_expired)
                if deleted:
                    log.info("deleted %d expired job(s)", deleted)
            except Exception:
                log.exception("the retention sweep failed")
            await asyncio.sleep(min(SWEEP_SECONDS, self.ttl))


DISPATCHER = web.AppKey("dispatcher", Dispatcher)  # on Postgres, a queue.dispatcher.QueuedDispatcher (same interface)

