"""Errors of a workflow run, shaped so the CLI, the HTTP service and remote runs report them alike."""

from __future__ import annotations

from typing import Any

from ...pipelines.core.errors import PlayalterError


class WorkflowFormatError(PlayalterError):
    """The file is not a workflow this runner understands."""

    code = "invalid_workflow"


class WorkflowValidationError(PlayalterError):
    """The workflow cannot run; nothing was executed.

    ``error`` is the prompt-level error and ``node_errors`` the per-node errors,
    both shaped like ComfyUI's ``/prompt`` 400 response:
    ``{"type", "message", "details", "extra_info"}`` and
    ``{node_id: {"errors": [...], "dependent_outputs": [...], "class_type"}}``.
    """

    code = "workflow_invalid"

    def __init__(self, error: dict[str, Any], node_errors: dict[str, Any] | None = None):
        self.error = error
        self.node_errors = node_errors or {}
        detailed = error.get("details") and not self.node_errors
        lines = [error["message"] + (f": {error['details']}" if detailed else "")]
        for node_id, entry in self.node_errors.items():
            for reason in entry["errors"]:
                lines.append(f"  node {node_id} ({entry['class_type']}): {reason['message']}: {reason['details']}")
        super().__init__("\n".join(lines))

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.error, "node_errors": self.node_errors}


class BindingError(PlayalterError):
    """A per-run binding names no node, an ambiguous title, or an input that cannot be bound."""

    code = "invalid_binding"


class NodeExecutionError(PlayalterError):
    """A node raised while running. ``code`` of the cause (e.g. ``model_missing``) is kept in ``cause_code``."""

    code = "node_failed"

    def __init__(self, node_id: str, class_type: str, message: str, exception_type: str, cause_code: str | None = None):
        self.node_id = node_id
        self.class_type = class_type
        self.message = message
        self.exception_type = exception_type
        self.cause_code = cause_code
        super().__init__(f"node {node_id} ({class_type}) failed: {message}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "node_execution_error",
            "node_id": self.node_id,
            "class_type": self.class_type,
            "message": self.message,
            "exception_type": self.exception_type,
            "code": self.cause_code,
        }


class WorkflowCancelled(PlayalterError):
    code = "cancelled"

    def __init__(self, node_id: str | None = None):
        self.node_id = node_id
        where = f" while node {node_id} was running" if node_id is not None else ""
        super().__init__(f"the run was cancelled{where}")

    def to_dict(self) -> dict[str, Any]:
        return {"type": "cancelled", "node_id": self.node_id, "message": str(self)}


class RemoteUnavailableError(PlayalterError):
    """The ComfyUI server of a remote run could not be reached or answered nonsense."""

    code = "remote_unavailable"
