"""Reading saved workflows: API format as is, UI format (the editor's Save) converted.

API format: ``{"id": {"class_type", "inputs", "_meta": {"title"}}}`` with links
``["id", output_index]``. UI format: ``{"nodes": [...], "links": [...], ...}``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ...pipelines.core.quoting import quoted
from .errors import WorkflowFormatError, WorkflowValidationError
from .registry import NodeClasses, default_node_classes
from .ui_format import ui_to_api


def is_ui_format(workflow: Any) -> bool:
    return isinstance(workflow, dict) and isinstance(workflow.get("nodes"), list) and "links" in workflow


def read_json(path: str | os.PathLike) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WorkflowFormatError(f"workflow file {path} does not exist") from None
    except IsADirectoryError:
        raise WorkflowFormatError(f"workflow file {path} is a folder; name a .json file") from None
    except OSError as error:
        raise WorkflowFormatError(f"workflow file {path} cannot be read ({error.strerror})") from None
    except json.JSONDecodeError as error:
        raise WorkflowFormatError(
            f"workflow file {path} is not valid JSON (line {error.lineno}, column {error.colno})") from None
    except (ValueError, RecursionError):  # not UTF-8, a number of over 4300 digits, nested too deep
        raise WorkflowFormatError(f"workflow file {path} is not valid JSON text") from None


def load_workflow(source: str | os.PathLike | Any, node_classes: NodeClasses | None = None) -> dict[str, dict]:
    """A workflow file path or parsed JSON (any value: only an object is a workflow) -> API format (a new dict;
    UI format converted).

    Link node ids are normalised to strings. A ``{"prompt": {...}}`` wrapper
    (the body of ComfyUI's ``POST /prompt``) is unwrapped.
    """
    workflow = read_json(source) if isinstance(source, (str, os.PathLike)) else source
    if not isinstance(workflow, dict):
        raise WorkflowFormatError(
            "a workflow is a JSON object (API format: nodes keyed by id; UI format: nodes and links)"
        )
    if is_ui_format(workflow):
        classes = node_classes if node_classes is not None else default_node_classes()
        return ui_to_api(workflow, classes)
    if isinstance(workflow.get("prompt"), dict) and all(isinstance(node, dict) for node in workflow["prompt"].values()):
        workflow = workflow["prompt"]
    return {str(node_id): _normalise_node(str(node_id), node) for node_id, node in workflow.items()}


def _normalise_node(node_id: str, node: Any) -> dict:
    """The node with its links' node ids as text. A node without the shape that binding and validation read (an
    object with a text ``class_type`` and an object of ``inputs``) is ComfyUI's ``invalid_prompt`` error."""
    if not isinstance(node, dict) or not isinstance(node.get("class_type"), str):
        raise _invalid_node(node_id, "is missing the class_type property (or it is not text)")
    if not isinstance(node.get("inputs") or {}, dict):
        raise _invalid_node(node_id, "has inputs that are not an object of input names and values")
    inputs = {
        name: [str(value[0]), value[1]]
        if isinstance(value, list) and len(value) == 2 and isinstance(value[0], int)
        else value
        for name, value in (node.get("inputs") or {}).items()
    }
    return {**node, "inputs": inputs}


def _invalid_node(node_id: str, problem: str) -> WorkflowValidationError:
    return WorkflowValidationError({"type": "invalid_prompt", "message": f"Cannot execute because a node {problem}.",
                                    "details": f"Node ID '#{quoted(node_id)}'", "extra_info": {}})
