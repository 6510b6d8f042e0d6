"""Run an API-format workflow in this process.

    result = execute(load_workflow("workflows/api/privacy_blur.json"),
                     bindings={"image": Path("photo.jpg"), "privacy.strength": 0.8},
                     output_dir="out")
    result.images()  # every saved image, as FileRefs

Steps: load (UI format converted), bind per-run values (``runner.bindings``),
validate (``runner.validation``, nothing runs on error), then run the output
nodes' ancestors in dependency order, mapping each node over list inputs the
way ComfyUI does (INPUT_IS_LIST / OUTPUT_IS_LIST). A node's failure becomes a
``NodeExecutionError`` naming the node; its traceback goes to the debug log.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterable, Mapping

from ...nodes import compat
from ...pipelines.core.errors import PlayalterError
from .bindings import apply_bindings
from .errors import BindingError, NodeExecutionError, WorkflowCancelled, WorkflowValidationError
from .injected_inputs import set_injected_images
from .registry import NodeClasses, declared_inputs, default_node_classes, is_link
from .validation import CheckedWorkflow, check_workflow
from .workflow import load_workflow

__all__ = [
    "BindingError",
    "FileRef",
    "ImageRef",
    "NodeExecutionError",
    "ProgressEvent",
    "RunResult",
    "WorkflowCancelled",
    "WorkflowValidationError",
    "execute",
    "validate",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileRef:
    """A file an output node produced, addressed like ComfyUI's ``/view`` (filename, subfolder, type)."""

    filename: str
    subfolder: str
    type: str  # "output" or "temp"
    path: Path | None = None  # where it lies on this machine
    data: bytes | None = field(default=None, repr=False)  # the content, when no local path exists

    def read_bytes(self) -> bytes:
        return self.data if self.data is not None else Path(self.path).read_bytes()

    def to_dict(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "subfolder": self.subfolder,
            "type": self.type,
            "path": str(self.path) if self.path is not None else None,
        }


ImageRef = FileRef


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a run, for progress bars and event streams.

    kind: "start" (nodes_total known), "node_start", "node_progress" (value/max
    from the node), "node_finish", "finish".
    """

    kind: str
    node_id: str | None = None
    class_type: str | None = None
    value: int = 0
    max: int = 0
    nodes_done: int = 0
    nodes_total: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


ProgressCallback = Callable[[ProgressEvent], None]


@dataclass
class RunResult:
    """Every output node's results, in workflow order: ``outputs[node_id] = {"class_type", "title", "images", "json",
    "text", "files"}``.

    images: FileRefs of saved / previewed images; json: JSON texts; text: other
    texts; files: other saved files (e.g. the .json files of PlayAlterSaveJSON).
    """

    outputs: dict[str, dict[str, Any]]
    seconds: float = 0.0

    def images(self) -> list[FileRef]:
        return [ref for entry in self.outputs.values() for ref in entry["images"]]

    def json(self) -> list[str]:
        return [text for entry in self.outputs.values() for text in entry["json"]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 4),
            "outputs": {
                node_id: {
                    **entry,
                    "images": [ref.to_dict() for ref in entry["images"]],
                    "files": [ref.to_dict() for ref in entry["files"]],
                }
                for node_id, entry in self.outputs.items()
            },
        }


def validate(
    prompt: Any,
    *,
    bindings: Mapping[str, Any] | None = None,
    input_dir: str | Path | None = None,
    node_classes: NodeClasses | None = None,
) -> None:
    """Raise WorkflowValidationError (or BindingError) if ``prompt`` cannot run; run nothing.

    Pass the run's ``bindings`` and ``input_dir`` when known: LoadImage checks
    that its image exists, and a bound image satisfies it.
    """
    node_classes = node_classes if node_classes is not None else default_node_classes()
    bound, injected = apply_bindings(load_workflow(prompt, node_classes), bindings, node_classes)
    with _run_scope(input_dir, None, None, injected, None):
        check_workflow(bound, node_classes)


def execute(
    prompt: Any,
    *,
    bindings: Mapping[str, Any] | None = None,
    input_dir: str | Path | None = None,
    output_dir: str | Path | None = None,
    on_progress: ProgressCallback | None = None,
    cancel_event: threading.Event | None = None,
    node_classes: NodeClasses | None = None,
    temp_dir: str | Path | None = None,
) -> RunResult:
    """Validate and run a workflow (API or UI format, dict or path) on this thread.

    input_dir / output_dir default to settings ``paths.input_dir`` / ``paths.output_dir``; temp_dir
    (PreviewImage) to a folder under the system temp directory.
    node_classes replaces the default registry (the pack's nodes plus the core nodes).
    Raises WorkflowValidationError, BindingError, NodeExecutionError or WorkflowCancelled.
    """
    started = time.perf_counter()
    node_classes = node_classes if node_classes is not None else default_node_classes()
    bound, injected = apply_bindings(load_workflow(prompt, node_classes), bindings, node_classes)
    emit = on_progress or (lambda event: None)
    with _run_scope(input_dir, output_dir, temp_dir, injected, cancel_event):
        checked = check_workflow(bound, node_classes)
        run = _Run(checked, node_classes, emit, cancel_event)
        outputs = run.run()
    return RunResult(outputs=outputs, seconds=time.perf_counter() - started)


@contextmanager
def _run_scope(input_dir, output_dir, temp_dir, injected: Mapping[str, bytes], cancel_event: threading.Event | None):
    """Install the run's folders, injected images and cancel event on this thread; clear them after."""
    compat.set_folders(input_dir, output_dir, temp_dir)
    set_injected_images(injected)
    compat.set_cancel_event(cancel_event)
    try:
        yield
    finally:
        compat.set_folders(None, None)
        set_injected_images(None)
        compat.set_cancel_event(None)
        compat.set_progress_hook(None)


def execution_order(prompt: Mapping[str, dict], outputs: Iterable[str]) -> list[str]:
    """The outputs and their ancestors, each after everything it depends on (validated: no cycles)."""
    order: list[str] = []
    placed: set[str] = set()

    def visit(node_id: str) -> None:
        if node_id in placed:
            return
        placed.add(node_id)
        for value in prompt[node_id]["inputs"].values():
            if is_link(value):
                visit(value[0])
        order.append(node_id)

    for output_id in outputs:
        visit(output_id)
    return order


class _Run:
    def __init__(
        self,
        checked: CheckedWorkflow,
        node_classes: NodeClasses,
        emit: ProgressCallback,
        cancel_event: threading.Event | None,
    ):
        self.prompt = checked.prompt
        self.outputs = checked.outputs
        self.node_classes = node_classes
        self.emit = emit
        self.cancel_event = cancel_event
        self.order = execution_order(self.prompt, self.outputs)
        self.values: dict[str, list[list[Any]]] = {}  # node id -> per output slot, the list of values
        self.uses_left = {node_id: 0 for node_id in self.order}
        for node_id in self.order:
            for value in self.prompt[node_id]["inputs"].values():
                if is_link(value):
                    self.uses_left[value[0]] += 1

    def run(self) -> dict[str, dict[str, Any]]:
        total = len(self.order)
        self.emit(ProgressEvent("start", nodes_total=total))
        results = {}
        for done, node_id in enumerate(self.order):
            node = self.prompt[node_id]
            class_type = node["class_type"]
            if self.cancel_event is not None and self.cancel_event.is_set():
                raise WorkflowCancelled(node_id)
            self.emit(ProgressEvent("node_start", node_id, class_type, nodes_done=done, nodes_total=total))
            compat.set_progress_hook(self._progress_hook(node_id, class_type, done, total))
            ui = self._run_node(node_id, node)
            compat.set_progress_hook(None)
            if node_id in self.outputs:
                results[node_id] = _output_entry(node, ui)
            self.emit(ProgressEvent("node_finish", node_id, class_type, nodes_done=done + 1, nodes_total=total))
        self.emit(ProgressEvent("finish", nodes_done=total, nodes_total=total))
        return {node_id: results[node_id] for node_id in self.outputs}  # in workflow order

    def _progress_hook(self, node_id: str, class_type: str, done: int, total: int) -> compat.ProgressHook:
        def hook(value: int, maximum: int) -> None:
            self.emit(ProgressEvent("node_progress", node_id, class_type, value, maximum, done, total))

        return hook

    def _run_node(self, node_id: str, node: dict) -> dict[str, list]:
        node_class = self.node_classes[node["class_type"]]
        try:
            arguments = self._gather_inputs(node_id, node, node_class)
            returns = _map_over_lists(node_class, arguments)
            self.values[node_id], ui = _merge_returns(returns, node_class)
        except compat.InterruptedByUser as error:
            raise WorkflowCancelled(node_id) from error
        except PlayalterError as error:
            log.debug("node %s (%s) failed", node_id, node["class_type"], exc_info=True)
            raise NodeExecutionError(
                node_id, node["class_type"], str(error), type(error).__name__, getattr(error, "code", None)
            ) from error
        except Exception as error:
            log.debug("node %s (%s) failed", node_id, node["class_type"], exc_info=True)
            raise NodeExecutionError(
                node_id, node["class_type"], f"{type(error).__name__}: {error}", type(error).__name__
            ) from error
        self._release_inputs(node)
        return ui

    def _gather_inputs(self, node_id: str, node: dict, node_class: type) -> dict[str, list]:
        """{input name: list of values}: a link gives the source's list, a constant a one-item list."""
        input_types = node_class.INPUT_TYPES()
        declared = declared_inputs(input_types)
        arguments = {}
        for name, value in node["inputs"].items():
            if name not in declared:
                continue
            arguments[name] = self.values[value[0]][value[1]] if is_link(value) else [value]
        for name, kind in (input_types.get("hidden") or {}).items():
            hidden = {"PROMPT": self.prompt, "UNIQUE_ID": node_id, "EXTRA_PNGINFO": None}
            if kind in hidden:
                arguments[name] = [hidden[kind]]
        return arguments

    def _release_inputs(self, node: dict) -> None:
        """Drop a source's values once its last consumer has run."""
        for value in node["inputs"].values():
            if is_link(value):
                self.uses_left[value[0]] -= 1
                if self.uses_left[value[0]] == 0:
                    del self.values[value[0]]


def _map_over_lists(node_class: type, arguments: dict[str, list]) -> list[Any]:
    """Call the node once with whole lists (INPUT_IS_LIST) or once per index, repeating shorter lists' last item."""
    function = getattr(node_class(), node_class.FUNCTION)
    if getattr(node_class, "INPUT_IS_LIST", False):
        return [function(**arguments)]
    if any(len(values) == 0 for values in arguments.values()):
        return []
    calls = max((len(values) for values in arguments.values()), default=1)
    returns = []
    for index in range(calls):
        compat.check_interrupted()
        returns.append(function(**{name: values[min(index, len(values) - 1)] for name, values in arguments.items()}))
    return returns


def _merge_returns(returns: list[Any], node_class: type) -> tuple[list[list[Any]], dict[str, list]]:
    """Per-call returns -> (per output slot, the list of values; merged ui dict)."""
    return_types = node_class.RETURN_TYPES
    output_is_list = getattr(node_class, "OUTPUT_IS_LIST", (False,) * len(return_types))
    slots: list[list[Any]] = [[] for _ in return_types]
    ui: dict[str, list] = {}
    for returned in returns:
        if isinstance(returned, dict):
            for key, values in (returned.get("ui") or {}).items():
                ui.setdefault(key, []).extend(values)
            returned = returned.get("result", ())
        returned = () if returned is None else returned
        if not isinstance(returned, (tuple, list)) or len(returned) != len(return_types):
            raise TypeError(
                f"{node_class.__name__}.{node_class.FUNCTION} returned {type(returned).__name__} "
                f"of length {len(returned) if hasattr(returned, '__len__') else '?'}; "
                f"RETURN_TYPES declares {len(return_types)} outputs"
            )
        for slot, value in enumerate(returned):
            if output_is_list[slot]:
                slots[slot].extend(value)
            else:
                slots[slot].append(value)
    return slots, ui


def _output_entry(node: dict, ui: dict[str, list]) -> dict[str, Any]:
    def refs(entries: list[dict]) -> list[FileRef]:
        found = []
        for entry in entries:
            root = compat.folder(entry.get("type", "output"))
            subfolder = entry.get("subfolder", "")
            found.append(
                FileRef(
                    entry["filename"],
                    subfolder,
                    entry.get("type", "output"),
                    root.resolve() / subfolder / entry["filename"],
                )
            )
        return found

    return {
        "class_type": node["class_type"],
        "title": (node.get("_meta") or {}).get("title"),
        "images": refs(ui.get("images", [])),
        "json": list(ui.get("json", [])),
        "text": [str(text) for text in ui.get("text", [])],
        "files": refs(ui.get("files", [])),
    }
