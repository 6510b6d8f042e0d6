"""Reading saved workflows: API format as is, UI format (the editor's Save) converted.

API format: ``{"id": {"class_type", "inputs", "_meta": {"title"}}}`` with links
``["id", output_index]``. UI format: ``{"nodes": [...], "links": [...], ...}``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .errors import WorkflowFormatError
from .registry import NodeClasses, default_node_classes
from .ui_format import ui_to_api


def is_ui_format(workflow: Any) -> bool:
    return isinstance(workflow, dict) and isinstance(workflow.get("nodes"), list) and "links" in workflow


def read_json(path: str | os.PathLike) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise WorkflowFormatError(f"workflow file {path} does not exist") from error
    except (UnicodeDecodeError, ValueError) as error:
        raise WorkflowFormatError(f"workflow file {path} is not valid JSON ({error})") from error


def load_workflow(source: str | os.PathLike | dict, node_classes: NodeClasses | None = None) -> dict[str, dict]:
    """A workflow file path or parsed JSON -> API format (a new dict; UI format converted).

    Link node ids are normalised to strings. A ``{"prompt": {...}}`` wrapper
    (the body of ComfyUI's ``POST /prompt``) is unwrapped.
    """
    workflow = source if isinstance(source, dict) else read_json(source)
    if not isinstance(workflow, dict):
        raise WorkflowFormatError(
            "a workflow is a JSON object (API format: nodes keyed by id; UI format: nodes and links)"
        )
    if is_ui_format(workflow):
        classes = node_classes if node_classes is not None else default_node_classes()
        return ui_to_api(workflow, classes)
    if isinstance(workflow.get("prompt"), dict) and all(isinstance(node, dict) for node in workflow["prompt"].values()):
        workflow = workflow["prompt"]
    return {str(node_id): _normalise_node(node) for node_id, node in workflow.items()}


def _normalise_node(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    inputs = {
        name: [str(value[0]), value[1]]
        if isinstance(value, list) and len(value) == 2 and isinstance(value[0], int)
        else value
        for name, value in (node.get("inputs") or {}).items()
    }
    return {**node, "inputs": inputs}
