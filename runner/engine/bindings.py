"""Per-run values bound to a saved workflow, by node id or node title (``_meta.title``).

    {"image": Path("me.jpg")}      the LoadImage with id or title "image" loads this local file
    {"image": b"\\x89PNG..."}       ... these encoded bytes
    {"image": "me.png"}            ... this file name from the run's input folder
    {"video": Path("clip.mp4")}    the LoadVideo with id or title "video" reads this local file (not copied)
    {"privacy.strength": 0.8}      input "strength" of the node titled "privacy"
    {"12.strength": 0.8}           input "strength" of node 12

A name is a node id first, else a unique title; a whole key that is a title
wins over splitting at its last dot. Bound image bytes are handed to LoadImage
for this run only (never written to the input folder). On the command line,
``--input NAME=VALUE`` reads VALUE as a file path for an image input and as
JSON (falling back to a plain string) otherwise: ``parse_cli_bindings``.
Error messages quote a sent name only as a short excerpt.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from collections.abc import Iterable, Mapping

from .errors import BindingError
from ...pipelines.core.quoting import excerpt
from .registry import NodeClasses, declared_inputs, is_link


def apply_bindings(
    prompt: Mapping[str, dict], bindings: Mapping[str, Any] | None, node_classes: NodeClasses
) -> tuple[dict[str, dict], dict[str, bytes | Path]]:
    """Return (a copy of ``prompt`` with the bound values, {injected file name: bytes, or a video's path})."""
    bound = {node_id: {**node, "inputs": dict(node.get("inputs") or {})} for node_id, node in prompt.items()}
    injected: dict[str, bytes | Path] = {}
    for key, value in (bindings or {}).items():
        node_id, input_name = resolve_binding_key(bound, key)
        node = bound[node_id]
        input_name = input_name or _default_input(node_id, node, node_classes)
        options = _input_options(node, input_name, node_classes)
        if is_link(node["inputs"].get(input_name)):
            raise BindingError(
                f"'{excerpt(key)}': input '{excerpt(input_name)}' of node {node_id} is connected to another node; "
                "bind a value of that node instead"
            )
        if _is_file_input(options):
            node["inputs"][input_name] = _image_name(key, node_id, value, injected,
                                                     keep_path=bool(options.get("video_upload")))
        elif isinstance(value, (bytes, bytearray, Path)):
            raise BindingError(
                f"'{excerpt(key)}': input '{excerpt(input_name)}' of node {node_id} takes a number or text, not a file"
            )
        else:
            node["inputs"][input_name] = value
    return bound, injected


def resolve_binding_key(prompt: Mapping[str, dict], key: str) -> tuple[str, str | None]:
    """'image' -> (node id, None); 'privacy.strength' -> (node id, 'strength')."""
    node_id = _find_node(prompt, key)
    if node_id is not None:
        return node_id, None
    if "." in key:
        name, input_name = key.rsplit(".", 1)
        node_id = _find_node(prompt, name)
        if node_id is not None:
            return node_id, input_name
    names = sorted({*prompt, *(title for node in prompt.values() if (title := _title(node)))})
    raise BindingError(f"'{excerpt(key)}' names no node of this workflow; node ids and titles: {', '.join(names)}")


def parse_cli_bindings(prompt: Mapping[str, dict], pairs: Iterable[str], node_classes: NodeClasses) -> dict[str, Any]:
    """['image=me.jpg', 'privacy.strength=0.8'] -> {'image': Path('me.jpg'), 'privacy.strength': 0.8}."""
    bindings: dict[str, Any] = {}
    for pair in pairs:
        key, separator, text = pair.partition("=")
        if not separator or not key:
            raise BindingError(f"--input '{excerpt(pair)}' must look like NAME=VALUE")
        node_id, input_name = resolve_binding_key(prompt, key)
        node = prompt[node_id]
        input_name = input_name or _default_input(node_id, node, node_classes)
        if _is_file_input(_input_options(node, input_name, node_classes)):
            bindings[key] = Path(text)
        else:
            try:
                bindings[key] = json.loads(text)
            except ValueError:
                bindings[key] = text
    return bindings


def _title(node: Mapping[str, Any]) -> str | None:
    return (node.get("_meta") or {}).get("title")


def _find_node(prompt: Mapping[str, dict], name: str) -> str | None:
    if name in prompt:
        return name
    matches = [node_id for node_id, node in prompt.items() if _title(node) == name]
    if len(matches) > 1:
        raise BindingError(
            f"the title '{excerpt(name)}' is shared by nodes {', '.join(matches)}; bind by node id instead"
        )
    return matches[0] if matches else None


def _declared(node: Mapping[str, Any], node_classes: NodeClasses) -> dict[str, tuple]:
    node_class = node_classes.get(node.get("class_type"))
    return declared_inputs(node_class.INPUT_TYPES()) if node_class is not None else {}


def _default_input(node_id: str, node: Mapping[str, Any], node_classes: NodeClasses) -> str:
    """A bare node name binds the node's image input (LoadImage); anything else needs NAME.INPUT."""
    images = [name for name, (_, _, options) in _declared(node, node_classes).items() if _is_file_input(options)]
    if len(images) != 1:
        raise BindingError(
            f"node {node_id} ({node.get('class_type')}) has no image to bind; name one of its inputs: {node_id}.INPUT"
        )
    return images[0]


def _input_options(node: Mapping[str, Any], input_name: str, node_classes: NodeClasses) -> dict:
    declared = _declared(node, node_classes)
    if declared and input_name not in declared:
        raise BindingError(
            f"node {node.get('class_type')} has no input '{excerpt(input_name)}'; its inputs: {', '.join(declared)}"
        )
    return declared[input_name][2] if input_name in declared else {}


def _is_file_input(options: Mapping[str, Any]) -> bool:
    return bool(options.get("image_upload") or options.get("video_upload"))


def _image_name(key: str, node_id: str, value: Any, injected: dict[str, bytes | Path], keep_path: bool = False) -> str:
    """Register an image or video value for LoadImage / LoadVideo; return the name the node will load.

    With ``keep_path`` (a video), a local file is handed over as its path, to be read as it streams.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, Path):
        if not value.is_file():
            raise BindingError(f"'{excerpt(key)}': the file {value} does not exist")
        data, label = (value if keep_path else value.read_bytes()), value.name
    elif isinstance(value, (bytes, bytearray)):
        data, label = bytes(value), "bytes"
    else:
        raise BindingError(
            f"'{excerpt(key)}': an image binding takes a file path, bytes or an input-folder file name, "
            f"not {type(value).__name__}"
        )
    name = f"bound:{node_id}:{label}"
    injected[name] = data
    return name
