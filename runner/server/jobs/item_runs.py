"""The life of one stored item, the same on the in-process pool (``dispatcher.Dispatcher``) and on a queue
worker (``queue.runtime.ItemRuntime``): ``ItemRunner.run`` announces the item running, runs it, has its
outcome and its ``job.<operation>`` audit row recorded, and announces how it ended.

Its callers differ only where their storage and transport differ:

- they claim the item before calling ``run`` (the pool with ``JobStore.start_item``, a worker with
  ``JobStore.claim`` and attempt numbers);
- ``record(outcome)`` writes the outcome and the audit row (the pool: the job store, then its audit log; a
  worker: both in one transaction, only while its attempt still holds the item, or not at all);
- ``emit(event, data)`` sends the events (to the local SSE streams, or through NOTIFY to every replica's):

    {"event": "item", "data": {"index", "state": "running"}}
    {"event": "progress", "data": {"index", ...}}            (any number)
    {"event": "item", "data": {"index", "state", "error"?}}   (once the outcome is recorded)

An item runs a saved workflow on its input files' bytes, or one of the ``direct`` runs (the video pipelines,
``video_jobs.py``) on their paths, under the job's time limit and cancellation event.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ...engine.executor import WorkflowCancelled
from ..errors import ApiError
from .runs import describe_error, run_item
from .store import Item, Job, JobStore
from .workflows import WorkflowCatalog

Emit = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class DirectRun:
    """A job kind run by a function instead of a saved workflow.

    ``run(plan, inputs, item_dir, cancel_event=..., on_progress=...)`` gets the input files by binding name,
    writes under ``item_dir / "output"`` and returns the item's result; ``on_progress(data)`` sends a
    ``progress`` event. It raises ``WorkflowCancelled`` once ``cancel_event`` is set.
    """

    run: Callable[..., dict[str, Any]]
    timeout_seconds: float


@dataclass(frozen=True)
class Outcome:
    """How an item run ended: its final state, its result or error, and the fields of its audit row."""

    state: str  # "completed", "failed" or "cancelled"
    result: dict | None
    error: dict | None
    audit: dict[str, Any]  # keyword arguments of the audit log's append


def workflow_prompt(catalog: WorkflowCatalog, direct: dict[str, DirectRun], workflow: str) -> dict | None:
    """The saved workflow's prompt; None for a direct run. ApiError 400/404 for an unknown workflow."""
    return None if workflow in direct else catalog.load(workflow)


class ItemRunner:
    """Runs claimed items of ``store``: saved workflows (stopped after ``timeout`` seconds) and ``direct`` runs."""

    def __init__(self, store: JobStore, direct: dict[str, DirectRun], *, input_dir: Path, timeout: float):
        self.store = store
        self.direct = direct
        self.input_dir = input_dir
        self.timeout = timeout

    def run(self, job: Job, item: Item, load_prompt: Callable[[], dict | None], *, cancel: threading.Event,
            emit: Emit, record: Callable[[Outcome], Job | None]) -> Job | None:
        """Run an item its caller has claimed; return the job as ``record`` left it (None: not recorded).

        ``load_prompt()`` gives the item's workflow (``workflow_prompt``); its ApiError fails the item.
        """
        emit("item", {"index": item.index, "state": "running"})
        started = time.perf_counter()
        try:
            prompt = load_prompt()
        except ApiError as failure:  # the workflow is gone from this process's catalog
            state, result, error, digests = "failed", None, {"code": failure.code, "message": failure.message}, []
        else:
            state, result, error, digests = self._run_stored(job, item, prompt, cancel, emit)
        updated = record(Outcome(state, result, error, audit_entry(job, item.index, digests, error, started)))
        if updated is not None:
            emit("item", {"index": item.index, "state": state, **({"error": error} if error else {})})
        return updated

    def _run_stored(self, job: Job, item: Item, prompt: dict | None, cancel: threading.Event,
                    emit: Emit) -> tuple[str, dict | None, dict | None, list[str]]:
        """(state, result, error, the inputs' SHA-256) of one item run from its input files in the job store."""
        digests: list[str] = []
        try:
            paths = {name: self.store.input_path(item, name) for name in item.inputs}
            digests = [_file_sha256(path) for path in paths.values()]
            item_dir = self.store.item_dir(job.id, item.index)
            direct = self.direct.get(job.workflow)
            if direct is not None:
                def on_direct_progress(data: dict[str, Any]) -> None:
                    emit("progress", {"index": item.index, **data})

                return (*execute(lambda: direct.run(job.plan, paths, item_dir, cancel_event=cancel,
                                                    on_progress=on_direct_progress),
                                 cancel, direct.timeout_seconds), digests)
            images = {name: path.read_bytes() for name, path in paths.items()}

            def on_progress(event) -> None:
                data = progress_data(event)
                if data is not None:
                    emit("progress", {"index": item.index, **data})

            return (*execute(lambda: run_item(prompt, job.plan, images, item_dir, self.input_dir,
                                              cancel_event=cancel, on_progress=on_progress),
                             cancel, self.timeout), digests)
        except Exception as failure:  # reading the inputs
            return "failed", None, describe_error(failure), digests


def audit_entry(job: Job, index: int, digests: list[str], error: dict | None, started: float) -> dict[str, Any]:
    """The fields of an item's ``job.<operation>`` audit row (``started``: its ``time.perf_counter()``)."""
    return {"key_id": job.key_id, "operation": f"job.{job.operation}", "inputs": digests,
            "parameters": {"job_id": job.id, "item": index, "workflow": job.workflow, **job.plan["bindings"]},
            "outcome": "ok" if error is None else error["code"],
            "duration_ms": (time.perf_counter() - started) * 1000.0}


def execute(run: Callable[[], dict[str, Any]], cancel: threading.Event,
            timeout: float) -> tuple[str, dict | None, dict | None]:
    """(state, result, error) of ``run()``, stopped through ``cancel`` once ``timeout`` seconds have passed."""
    timed_out = threading.Event()

    def stop_for_timeout() -> None:
        timed_out.set()
        cancel.set()

    timer = threading.Timer(timeout, stop_for_timeout)
    timer.start()
    try:
        return "completed", run(), None
    except WorkflowCancelled as cancelled:
        if timed_out.is_set():
            return "failed", None, {"code": "timeout",
                                    "message": f"processing took longer than {timeout:g} s and was stopped"}
        return "cancelled", None, describe_error(cancelled)
    except Exception as failure:
        return "failed", None, describe_error(failure)
    finally:
        timer.cancel()


def progress_data(event) -> dict[str, Any] | None:
    """The "progress" event data of an executor event, or None for kinds that are not reported."""
    if event.kind not in ("node_start", "node_progress", "node_finish"):
        return None
    data = event.to_dict()
    del data["kind"]
    return data


def _file_sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
