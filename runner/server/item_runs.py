"""Running one stored item: the same code on the in-process pool (``dispatcher.Dispatcher``) and on a queue
worker (``queue.runtime.ItemRuntime``); they differ only in how they claim the item and record its outcome.

An item runs a saved workflow on its input files' bytes, or one of the ``direct`` runs (the video pipelines,
``video_jobs.py``) on their paths, under the job's time limit and cancellation event. ``emit(event, data)``
sends its ``progress`` events (to the local SSE streams, or through NOTIFY to every replica's).
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..executor import WorkflowCancelled
from .jobs import Item, Job, JobStore
from .runs import describe_error, run_item
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


def workflow_prompt(catalog: WorkflowCatalog, direct: dict[str, DirectRun], workflow: str) -> dict | None:
    """The saved workflow's prompt; None for a direct run. ApiError 400/404 for an unknown workflow."""
    return None if workflow in direct else catalog.load(workflow)


def run_stored_item(store: JobStore, job: Job, item: Item, prompt: dict | None, direct: DirectRun | None, *,
                    input_dir: Path, timeout: float, cancel: threading.Event,
                    emit: Emit) -> tuple[str, dict | None, dict | None, list[str]]:
    """(state, result, error, the inputs' SHA-256) of one item run from its input files in the job store."""
    digests: list[str] = []
    try:
        paths = {name: store.input_path(item, name) for name in item.inputs}
        digests = [_file_sha256(path) for path in paths.values()]
        item_dir = store.item_dir(job.id, item.index)
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

        return (*execute(lambda: run_item(prompt, job.plan, images, item_dir, input_dir, cancel_event=cancel,
                                          on_progress=on_progress),
                         cancel, timeout), digests)
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
