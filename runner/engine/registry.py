"""The node classes a local run can use: the pack's nodes plus the runner's core-node implementations."""

from __future__ import annotations

from typing import Any
from collections.abc import Mapping

NodeClasses = Mapping[str, type]

WIDGET_TYPES = ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO")


def default_node_classes() -> dict[str, type]:
    from ... import nodes
    from .core_nodes import CORE_NODE_CLASSES

    return {**CORE_NODE_CLASSES, **nodes.NODE_CLASS_MAPPINGS}


def display_name(class_type: str) -> str:
    """The title the graph editor gives a new node of this class."""
    from ... import nodes
    from .core_nodes import CORE_DISPLAY_NAMES

    return nodes.NODE_DISPLAY_NAME_MAPPINGS.get(class_type) or CORE_DISPLAY_NAMES.get(class_type) or class_type


def declared_inputs(input_types: Mapping[str, Any]) -> dict[str, tuple[str, Any, dict]]:
    """INPUT_TYPES() -> {name: (category, type, options)} for required then optional inputs, in order."""
    declared = {}
    for category in ("required", "optional"):
        for name, spec in (input_types.get(category) or {}).items():
            options = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
            declared[name] = (category, spec[0], options)
    return declared


def is_widget(input_type: Any, options: Mapping[str, Any]) -> bool:
    """Whether the editor shows this input as a widget (a value) rather than a socket (a link)."""
    if options.get("forceInput"):
        return False
    return isinstance(input_type, list) or input_type in WIDGET_TYPES


def is_link(value: Any) -> bool:
    """An API-format input value that links to another node's output: ["node_id", output_index]."""
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int)
