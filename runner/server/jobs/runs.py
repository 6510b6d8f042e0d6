"""Running one job item: execute the saved workflow, keep its outputs.

This is the single code path of every endpoint. It runs on a worker thread.
Images are checked where they are decoded, by the workflow's LoadImage
(``pipelines.images.load_image``: truncated, oversized, bombs, non-images),
so a bad image fails its item with the code ``invalid_image``.
Outputs are gathered into the item's folder (images written by PreviewImage to
the temp folder are moved in), and the item's result lists them by output
node, with JSON outputs parsed.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import threading
from pathlib import Path
from typing import Any, Callable

from ....pipelines.core.errors import ModelMissingError, PlayalterError
from ...engine.executor import NodeExecutionError, RunResult, WorkflowValidationError, execute
from ..faults import fault_description

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARACTERS = 1000
# an absolute POSIX path of two parts or more, or a Windows one; not a URL's path, not a relative name
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/\\~-])(?:/[^\s'\"/,;:()\[\]]+){2,}/?|\b[A-Za-z]:\\[^\s'\",;]+")


class ItemTimeout(PlayalterError):
    code = "timeout"


def run_item(prompt: dict, plan: dict[str, Any], images: dict[str, bytes], item_dir: Path, input_dir: Path, *,
             cancel_event: threading.Event, on_progress: Callable | None = None) -> dict[str, Any]:
    """Run ``prompt`` with the plan's bindings plus ``images``; return the item's result (JSON-ready)."""
    output_dir = item_dir / "output"
    output_dir.mkdir(parents=True, exist_ok=True)
    result = execute(prompt, bindings={**plan["bindings"], **images}, input_dir=input_dir, output_dir=output_dir,
                     on_progress=on_progress, cancel_event=cancel_event)
    return _collect(result, item_dir, set(plan.get("hide_titles", ())))


def _collect(result: RunResult, item_dir: Path, hide_titles: set[str]) -> dict[str, Any]:
    images, documents = [], []
    for node_id, entry in result.outputs.items():
        title = entry.get("title")
        if title in hide_titles:
            continue
        for ref in entry["images"]:
            path = _inside(Path(ref.path), item_dir)
            images.append({"node": node_id, "title": title, "filename": path.name,
                           "file": path.relative_to(item_dir).as_posix()})
        for text in entry["json"]:
            documents.append({"node": node_id, "title": title, "data": _parse(text)})
    return {"seconds": round(result.seconds, 3), "images": images, "json": documents}


def _inside(path: Path, item_dir: Path) -> Path:
    """``path`` if it lies in the item's folder, else moved there (previews land in the shared temp folder)."""
    if path.resolve().is_relative_to(item_dir.resolve()):
        return path
    target = item_dir / "output" / "preview" / path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(path, target)
    return target


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def describe_error(error: BaseException) -> dict[str, Any]:
    """An exception of a run -> the item's error for HTTP clients: stable code, message, optional details.

    Messages and details never carry server paths (folders are named by their last part only, see
    ``public_text``); a missing model is named with how to install it, not with the folders searched.
    """
    fault = fault_description(error)  # a full disk or a database outage, whichever node met it
    if fault is not None:
        return fault
    cause = error.__cause__ if isinstance(error, NodeExecutionError) else error
    if isinstance(cause, ModelMissingError):
        described = {"code": cause.code, "message": _model_missing_message(cause)}
        if isinstance(error, NodeExecutionError):
            described["details"] = {"node_id": error.node_id, "class_type": error.class_type}
        return described
    if isinstance(error, NodeExecutionError):
        details = {"node_id": error.node_id, "class_type": error.class_type}
        if not isinstance(cause, PlayalterError):  # a bug, not bad input: Python's text stays in the log
            log.error("node %s (%s) failed unexpectedly", error.node_id, error.class_type, exc_info=cause)
            return {"code": error.code, "message": f"node {error.node_id} ({error.class_type}) failed unexpectedly; "
                    "the error has been logged", "details": details}
        return {"code": error.cause_code or error.code, "message": public_text(error.message), "details": details}
    if isinstance(error, WorkflowValidationError):
        return {"code": error.code, "message": public_text(str(error)), "details": _public_details(error.to_dict())}
    if isinstance(error, PlayalterError):
        return {"code": error.code, "message": public_text(str(error))}
    log.error("unexpected failure of a run", exc_info=error)
    return {"code": "internal_error", "message": "processing failed unexpectedly; the error has been logged"}


def public_text(text: str) -> str:
    """``text`` with every absolute path cut to its last part (``.../name``), at most MAX_MESSAGE_CHARACTERS."""
    text = _ABSOLUTE_PATH.sub(_last_part, text)
    return text if len(text) <= MAX_MESSAGE_CHARACTERS else text[:MAX_MESSAGE_CHARACTERS] + "..."


def _last_part(match: re.Match) -> str:
    return ".../" + match.group(0).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def _public_details(value: Any) -> Any:
    if isinstance(value, str):
        return public_text(value)
    if isinstance(value, dict):
        return {key: _public_details(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_public_details(item) for item in value]
    return value


def _model_missing_message(error: ModelMissingError) -> str:
    return public_text(f"{error.feature} needs the model '{error.model}', which is not installed on this server. "
                       f"How to obtain it: {error.how_to_obtain}")
