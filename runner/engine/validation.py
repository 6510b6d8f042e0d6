"""Validation of an API-format workflow before anything runs, with ComfyUI-shaped errors.

Follows ComfyUI's ``execution.validate_prompt``: every node must have a known
``class_type``; output nodes (``OUTPUT_NODE = True``) and their ancestors are
checked input by input (missing, linked types, value conversion, min/max,
combo lists, ``VALIDATE_INPUTS``), and file names (an image to load, a
``filename_prefix`` to save under) are checked before the node sees them:
relative, no ``..``, no control characters, parts of at most
``MAX_FILE_NAME_CHARACTERS``. Messages quote a sent value only as a short
excerpt (``quoting.excerpt``). Unlike ComfyUI, which still runs the
outputs that validated, any error stops the whole run: a script gets all or
nothing.
"""

from __future__ import annotations

import inspect
import logging
import math
import re
from dataclasses import dataclass
from typing import Any

from ...pipelines.core.errors import PlayalterError
from .errors import WorkflowValidationError
from ...pipelines.core.quoting import excerpt, short_value
from .registry import NodeClasses, declared_inputs

def _finite_float(value: Any) -> float:
    """``float(value)``, refusing infinities and NaN (which would pass every min/max check)."""
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    return number


_CONVERTERS = {"INT": int, "FLOAT": _finite_float, "STRING": str, "BOOLEAN": bool}
log = logging.getLogger(__name__)

MAX_FILE_NAME_CHARACTERS = 200  # per folder or file name; file systems allow 255 bytes, and a counter is added
MAX_PATH_CHARACTERS = 1000
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class CheckedWorkflow:
    prompt: dict[str, dict]  # values converted to their declared types
    outputs: list[str]  # output node ids, in prompt order


def _prompt_error(
    kind: str, message: str, details: str = "", extra_info: dict | None = None
) -> WorkflowValidationError:
    return WorkflowValidationError(
        {"type": kind, "message": message, "details": details, "extra_info": extra_info or {}}
    )


def _own_words(error: Exception) -> str:
    """A node's own check failed: our errors say why in our words; anything else is logged, named by kind only."""
    if isinstance(error, PlayalterError):
        return str(error)
    log.warning("a node's input check raised %s", type(error).__name__, exc_info=error)
    return f"the node's input check failed unexpectedly ({type(error).__name__}); the error has been logged"


def _conversion_problem(value: Any, input_type: str) -> str:
    """Why ``value`` does not convert to ``input_type``, in our words (Python says "int too large to convert
    to float")."""
    if input_type in ("INT", "FLOAT") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"not a finite number that a {input_type} can hold"
    return f"{excerpt(value)} is not a {input_type} value"


def _unknown_class_error(unknown: dict[str, str], node_classes: NodeClasses) -> dict:
    """The prompt-level error for the nodes (id -> class_type) that are neither PLAYALTER nor core nodes."""
    names = sorted(set(unknown.values()))
    node_id, class_type = next(iter(unknown.items()))
    core = ", ".join(sorted(name for name in node_classes if not name.startswith("PlayAlter")))
    subject = f"node {names[0]} does not" if len(names) == 1 else f"nodes {', '.join(names)} do not"
    return {
        "type": "invalid_prompt",
        "message": f"Cannot execute because {subject} exist.",
        "details": f"Node ID '#{node_id}'",
        "extra_info": {
            "node_id": node_id,
            "class_type": class_type,
            "hint": (
                f"'{', '.join(names)}' {'is' if len(names) == 1 else 'are'} neither PLAYALTER nodes nor core nodes "
                f"the runner implements ({core}). "
                "Run this workflow on a ComfyUI server that has them: playalter run WORKFLOW --remote http://HOST:8188"
            ),
        },
    }


def type_matches(received: Any, expected: Any) -> bool:
    """ComfyUI's link type rule: equal, '*' on either side, or overlapping comma-separated lists."""
    if received == expected or received == "*" or expected == "*":
        return True
    if isinstance(received, list) and expected == "COMBO":
        return True
    if not isinstance(received, str) or not isinstance(expected, str):
        return False
    received_set = {part.strip() for part in received.split(",")}
    expected_set = {part.strip() for part in expected.split(",")}
    return "*" in received_set or "*" in expected_set or bool(received_set & expected_set)


class _Validator:
    def __init__(self, prompt: dict[str, dict], node_classes: NodeClasses):
        self.prompt = prompt
        self.node_classes = node_classes
        self.reasons: dict[str, list[dict]] = {}  # node id -> its own errors
        self.valid: dict[str, bool] = {}  # node id -> itself and its ancestors valid
        self.visiting: set[str] = set()

    def node(self, node_id: str) -> bool:
        if node_id in self.valid:
            return self.valid[node_id]
        if self.prompt[node_id]["class_type"] not in self.node_classes:  # reported once as an unknown node
            self.reasons[node_id], self.valid[node_id] = [], False
            return False
        if node_id in self.visiting:
            raise _prompt_error(
                "invalid_prompt",
                "Cannot execute because the workflow has a dependency cycle.",
                f"Node ID '#{node_id}'",
                {"node_id": node_id},
            )
        self.visiting.add(node_id)
        try:
            errors, ancestors_valid = self._check_inputs(node_id)
        except WorkflowValidationError:
            raise
        except Exception as error:  # the node's own INPUT_TYPES / VALIDATE_INPUTS raised
            extra = {"exception_type": type(error).__name__}
            errors = [_reason("exception_during_validation", "Exception when validating node",
                              _own_words(error), extra)]
            ancestors_valid = True
        self.visiting.discard(node_id)
        self.reasons[node_id] = errors
        self.valid[node_id] = not errors and ancestors_valid
        return self.valid[node_id]

    def _check_inputs(self, node_id: str) -> tuple[list[dict], bool]:
        node = self.prompt[node_id]
        node_class = self.node_classes[node["class_type"]]
        inputs = node["inputs"]
        validate_args, validate_kwargs = _validate_signature(node_class)
        errors: list[dict] = []
        ancestors_valid = True
        received_types: dict[str, Any] = {}
        for name, (category, input_type, options) in declared_inputs(node_class.INPUT_TYPES()).items():
            config = [input_type, options]
            if name not in inputs:
                if category == "required":
                    errors.append(
                        _reason("required_input_missing", "Required input is missing", name, {"input_name": name})
                    )
                continue
            value = inputs[name]
            if isinstance(value, list):
                error, received = self._check_link(name, value, input_type, config, "input_types" in validate_args)
                if error is not None:
                    errors.append(error)
                    continue
                received_types[name] = received
                if not self.node(str(value[0])):
                    ancestors_valid = False
                continue
            if isinstance(value, dict) and "__value__" in value:
                value = inputs[name] = value["__value__"]
            converter = _CONVERTERS.get(input_type) if isinstance(input_type, str) else None
            if converter is not None:
                try:
                    value = inputs[name] = converter(value)
                except (TypeError, ValueError, OverflowError):
                    errors.append(
                        _reason(
                            "invalid_input_type",
                            f"Failed to convert an input value to a {input_type} value",
                            f"{name}, {excerpt(value)}",
                            {
                                "input_name": name,
                                "input_config": config,
                                "received_value": short_value(value),
                                "exception_message": _conversion_problem(value, input_type),
                            },
                        )
                    )
                    continue
            if name == "filename_prefix" or options.get("image_upload") or options.get("video_upload"):
                problem = _file_name_problem(value)
                if problem is not None:
                    errors.append(_reason("invalid_file_name", "Invalid file name", f"{name}: {problem}",
                                          {"input_name": name, "received_value": short_value(value)}))
                    continue
            if name in validate_args or validate_kwargs:
                continue
            error = _check_value(name, value, input_type, options, config)
            if error is not None:
                errors.append(error)
        refused_name = any(error["type"] == "invalid_file_name" for error in errors)
        if (validate_args or validate_kwargs) and not refused_name:  # the node's own check would open the file
            errors.extend(_custom_validation(node_class, inputs, validate_args, validate_kwargs, received_types))
        return errors, ancestors_valid

    def _check_link(self, name, value, input_type, config, any_type_allowed) -> tuple[dict | None, Any]:
        extra = {"input_name": name, "input_config": config, "received_value": short_value(value)}
        if len(value) != 2:
            return _reason(
                "bad_linked_input", "Bad linked input, must be a length-2 list of [node_id, slot_index]", name, extra
            ), None
        source_id, slot = value
        source = self.prompt.get(str(source_id))
        if source is None:
            return _reason(
                "bad_linked_input",
                "Linked node does not exist in the workflow",
                f"{name}: node '{excerpt(source_id)}'",
                extra,
            ), None
        if source["class_type"] not in self.node_classes:  # unknown node: reported on its own, types unknown
            return None, "*"
        return_types = self.node_classes[source["class_type"]].RETURN_TYPES
        if not isinstance(slot, int) or not 0 <= slot < len(return_types):
            return _reason(
                "bad_linked_input",
                "Linked output index is out of range",
                f"{name}: node '{excerpt(source_id)}' has {len(return_types)} outputs, got index {excerpt(slot)}",
                extra,
            ), None
        received = return_types[slot]
        if not any_type_allowed and not type_matches(received, input_type):
            return _reason(
                "return_type_mismatch",
                "Return type mismatch between linked nodes",
                f"{name}, received_type({received}) mismatch input_type({input_type})",
                {"input_name": name, "input_config": config, "received_type": received, "linked_node": value},
            ), None
        return None, received


def _reason(kind: str, message: str, details: str, extra_info: dict) -> dict:
    return {"type": kind, "message": message, "details": details, "extra_info": extra_info}


def _validate_signature(node_class: type) -> tuple[list[str], bool]:
    function = getattr(node_class, "VALIDATE_INPUTS", None)
    if function is None:
        return [], False
    spec = inspect.getfullargspec(function)
    return [arg for arg in spec.args if arg not in ("self", "cls")], spec.varkw is not None


def _file_name_problem(value: Any) -> str | None:
    """Why ``value`` cannot name a file inside a folder (relative, '/'-separated), or None when it can."""
    if not isinstance(value, str):
        return None  # a link or a bound image; the converters have checked the type
    parts = value.replace("\\", "/").split("/")
    if not value.strip():
        return "the name is empty"
    if _CONTROL_CHARACTERS.search(value):
        return "the name contains a control character (NUL, line break, ...)"
    if value.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", value):
        return "give a name relative to the folder, not an absolute path"
    if ".." in parts:
        return "'..' may not be used to leave the folder"
    if any(len(part) > MAX_FILE_NAME_CHARACTERS for part in parts):
        return f"a folder or file name may be at most {MAX_FILE_NAME_CHARACTERS} characters long"
    if len(value) > MAX_PATH_CHARACTERS:
        return f"the name may be at most {MAX_PATH_CHARACTERS} characters long, folders included"
    return None


def _check_value(name: str, value: Any, input_type: Any, options: dict, config: list) -> dict | None:
    extra = {"input_name": name, "input_config": config, "received_value": short_value(value)}
    if "min" in options and value < options["min"]:
        return _reason("value_smaller_than_min", f"Value {excerpt(value)} smaller than min of {options['min']}",
                       name, extra)
    if "max" in options and value > options["max"]:
        return _reason("value_bigger_than_max", f"Value {excerpt(value)} bigger than max of {options['max']}",
                       name, extra)
    choices = input_type if isinstance(input_type, list) else options.get("options") if input_type == "COMBO" else None
    if choices is not None and value not in choices:
        listed = str(choices) if len(choices) <= 20 else f"(list of length {len(choices)})"
        return _reason(
            "value_not_in_list",
            "Value not in list",
            f"{name}: '{excerpt(value)}' not in {listed}",
            {**extra, "input_config": config if len(choices) <= 20 else None},
        )
    return None


def _custom_validation(node_class, inputs, validate_args, validate_kwargs, received_types) -> list[dict]:
    """Call VALIDATE_INPUTS with the constant inputs it asks for (linked inputs are not known yet: None)."""
    wanted = set(inputs) if validate_kwargs else set(validate_args) & set(inputs)
    arguments = {name: (None if isinstance(inputs[name], list) else inputs[name]) for name in wanted}
    if "input_types" in validate_args:
        arguments["input_types"] = received_types
    for name in validate_args:
        if name not in arguments and name != "input_types":
            arguments[name] = None
    result = node_class.VALIDATE_INPUTS(**arguments)
    if result is True:
        return []
    names = ", ".join(sorted(wanted)) or "(no inputs)"
    details = names if result is False else f"{names} - {result}"
    return [
        _reason(
            "custom_validation_failed",
            "Custom validation failed for node",
            details,
            {"input_name": sorted(wanted)[0] if wanted else None},
        )
    ]


def check_workflow(prompt: Any, node_classes: NodeClasses) -> CheckedWorkflow:
    """Validate ``prompt``; return a converted copy and its output nodes, or raise WorkflowValidationError."""
    if not isinstance(prompt, dict) or not prompt:
        raise _prompt_error("invalid_prompt", "The workflow must be a non-empty JSON object of nodes keyed by id.")
    checked = {}
    outputs = []
    unknown: dict[str, str] = {}  # node id -> class_type; reported together with every other error
    for node_id, node in prompt.items():
        if not isinstance(node, dict) or "class_type" not in node:
            raise _prompt_error(
                "invalid_prompt",
                "Cannot execute because a node is missing the class_type property.",
                f"Node ID '#{node_id}'",
            )
        node_class = node_classes.get(node["class_type"])
        checked[str(node_id)] = {**node, "inputs": dict(node.get("inputs") or {})}
        if node_class is None:
            unknown[str(node_id)] = node["class_type"]
        elif getattr(node_class, "OUTPUT_NODE", False) is True:
            outputs.append(str(node_id))
    if not outputs and not unknown:
        raise _prompt_error(
            "prompt_no_outputs",
            "Prompt has no outputs",
            "",
            {"hint": "add an output node such as SaveImage, PreviewImage or PlayAlterSaveJSON"},
        )
    validator = _Validator(checked, node_classes)
    node_errors: dict[str, dict] = {
        node_id: {"errors": [_reason("node_not_found", f"Node {class_type} does not exist", class_type, {})],
                  "dependent_outputs": [], "class_type": class_type}
        for node_id, class_type in unknown.items()
    }
    for output_id in outputs:
        if validator.node(output_id):
            continue
        for node_id in _ancestors(checked, output_id):
            if validator.reasons.get(node_id) or node_id in unknown:
                entry = node_errors.setdefault(
                    node_id,
                    {
                        "errors": validator.reasons[node_id],
                        "dependent_outputs": [],
                        "class_type": checked[node_id]["class_type"],
                    },
                )
                entry["dependent_outputs"].append(output_id)
    if unknown:
        raise WorkflowValidationError(_unknown_class_error(unknown, node_classes), node_errors)
    if node_errors:
        details = "\n".join(
            f"{reason['message']}: {reason['details']}" for entry in node_errors.values() for reason in entry["errors"]
        )
        raise WorkflowValidationError(
            {
                "type": "prompt_outputs_failed_validation",
                "message": "Prompt outputs failed validation",
                "details": details,
                "extra_info": {},
            },
            node_errors,
        )
    return CheckedWorkflow(prompt=checked, outputs=outputs)


def _ancestors(prompt: dict[str, dict], node_id: str) -> list[str]:
    """``node_id`` and every node it depends on (links to missing nodes ignored)."""
    seen, stack = [], [node_id]
    while stack:
        current = stack.pop()
        if current in seen or current not in prompt:
            continue
        seen.append(current)
        stack.extend(
            str(value[0]) for value in prompt[current]["inputs"].values() if isinstance(value, list) and len(value) == 2
        )
    return seen
