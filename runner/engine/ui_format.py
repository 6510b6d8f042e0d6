"""Conversion between the editor's UI format and the API format, both ways.

UI format (what the editor's Save writes)::

    {"nodes": [{"id", "type", "mode", "title"?, "inputs": [{"name", "type", "link", "widget"?}],
                "outputs": [{"name", "type", "links", "slot_index"}], "widgets_values": [...]}],
     "links": [[link_id, from_node, from_slot, to_node, to_slot, type], ...], ...}

Widget values are matched to input names through the node definitions: the
widget inputs (INT, FLOAT, STRING, BOOLEAN, combos; not ``forceInput``) in
INPUT_TYPES order, where seed-like INT widgets (``seed``, ``noise_seed`` or
``control_after_generate``) carry one extra value ("fixed", "randomize", ...)
and image and video inputs (``image_upload``, ``video_upload``) one more (the upload button). Muted nodes
(mode 2) are dropped with the links from them; bypassed nodes (mode 4) pass
each link on to their input of the same type; Reroute nodes are followed;
PrimitiveNode values are copied into the inputs they feed; Note and
MarkdownNote are ignored.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable, Mapping

from ...pipelines.core.quoting import quoted
from .errors import WorkflowFormatError
from .registry import NodeClasses, declared_inputs, display_name, is_link, is_widget

MODE_MUTED = 2
MODE_BYPASSED = 4
NOTE_TYPES = ("Note", "MarkdownNote")
SEED_NAMES = ("seed", "noise_seed")


@dataclass(frozen=True)
class NodeDefinition:
    input_types: dict  # INPUT_TYPES(): {"required": {...}, "optional": {...}, "hidden": {...}}
    return_types: tuple
    return_names: tuple
    display_name: str


Definitions = Callable[[str], "NodeDefinition | None"]


def local_definitions(node_classes: NodeClasses) -> Definitions:
    def definition(class_type: str) -> NodeDefinition | None:
        node_class = node_classes.get(class_type)
        if node_class is None:
            return None
        return_types = tuple(node_class.RETURN_TYPES)
        return NodeDefinition(
            node_class.INPUT_TYPES(),
            return_types,
            tuple(getattr(node_class, "RETURN_NAMES", None) or return_types),
            display_name(class_type),
        )

    return definition


def object_info_definitions(object_info: Mapping[str, Any]) -> Definitions:
    """Definitions from a ComfyUI server's ``GET /object_info`` (for workflows with nodes this pack lacks)."""

    def definition(class_type: str) -> NodeDefinition | None:
        info = object_info.get(class_type)
        if info is None:
            return None
        return_types = tuple(info.get("output", ()))
        return NodeDefinition(
            info.get("input", {}),
            return_types,
            tuple(info.get("output_name") or return_types),
            info.get("display_name") or class_type,
        )

    return definition


def extra_widget_values(name: str, input_type: Any, options: Mapping[str, Any]) -> int:
    """How many values after this widget's own the editor stores for it."""
    control = options.get("control_after_generate") or (input_type == "INT" and name in SEED_NAMES)
    return int(bool(control)) + int(bool(options.get("image_upload") or options.get("video_upload")))


def _widget_inputs(definition: NodeDefinition) -> list[tuple[str, Any, dict]]:
    return [
        (name, input_type, options)
        for name, (_, input_type, options) in declared_inputs(definition.input_types).items()
        if is_widget(input_type, options)
    ]


@dataclass(frozen=True)
class _Link:
    from_node: int
    from_slot: int
    to_node: int
    to_slot: int
    type: Any


def _parse_links(raw_links: Any) -> dict[int, _Link]:
    """Links by id, from the editor's lists ``[id, from_node, from_slot, to_node, to_slot, type]`` or objects;
    WorkflowFormatError for any other shape."""
    if not isinstance(raw_links, (list, type(None))):
        raise WorkflowFormatError("the workflow's 'links' is not a list")
    links = {}
    for raw in raw_links or []:
        if isinstance(raw, dict) and {"id", "origin_id", "origin_slot", "target_id", "target_slot"} <= raw.keys():
            link_id, link = raw["id"], _Link(raw["origin_id"], raw["origin_slot"], raw["target_id"],
                                             raw["target_slot"], raw.get("type"))
        elif isinstance(raw, list) and len(raw) >= 6:
            link_id, link = raw[0], _Link(*raw[1:6])
        else:
            raise WorkflowFormatError(f"link {quoted(raw)} is neither [id, from_node, from_slot, to_node, to_slot, "
                                      "type] nor an object with those fields")
        if not _is_id(link_id) or not isinstance(link.from_slot, int) or isinstance(link.from_slot, bool):
            raise WorkflowFormatError(f"link {quoted(raw)} needs a whole-number or text id and a whole-number slot")
        links[link_id] = link
    return links


def _parse_nodes(raw_nodes: list) -> dict[Any, dict]:
    """Nodes by id; WorkflowFormatError unless each is an object with an id, a text type, ``inputs`` as a list
    of objects with a text name and ``widgets_values`` as a list or an object."""
    nodes = {}
    for position, node in enumerate(raw_nodes):
        if not isinstance(node, dict) or not _is_id(node.get("id")) or not isinstance(node.get("type"), str):
            raise WorkflowFormatError(f"nodes[{position}] is not an object with a whole-number or text 'id' and "
                                      "a text 'type'")
        sockets = node.get("inputs") or []
        if not isinstance(sockets, list) or not all(
                isinstance(socket, dict) and isinstance(socket.get("name"), str) for socket in sockets):
            raise WorkflowFormatError(f"node {quoted(node['id'])}: 'inputs' is not a list of named sockets")
        if not isinstance(node.get("widgets_values") or [], (list, dict)):
            raise WorkflowFormatError(f"node {quoted(node['id'])}: 'widgets_values' is not a list or an object")
        nodes[node["id"]] = node
    return nodes


def _is_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


@dataclass(frozen=True)
class _Constant:
    """A value a PrimitiveNode feeds into an input."""

    value: Any


def ui_to_api(
    ui: Mapping[str, Any], node_classes: NodeClasses | None = None, *, definitions: Definitions | None = None
) -> dict[str, dict]:
    """A UI-format workflow -> API format."""
    if isinstance(ui.get("definitions"), dict) and ui["definitions"].get("subgraphs"):
        raise WorkflowFormatError("workflows with subgraphs are not supported; unpack the subgraph in the editor first")
    definitions = definitions or local_definitions(node_classes or {})
    nodes = _parse_nodes(ui["nodes"])
    links = _parse_links(ui.get("links"))

    def source(link_id: int, passed: frozenset = frozenset()) -> tuple[str, int] | _Constant | None:
        """Follow a link upstream through Reroute, PrimitiveNode and bypassed nodes; None when it leads nowhere
        (or round a circle of Reroute and bypassed nodes: ``passed`` holds the links followed so far)."""
        link = links.get(link_id) if _is_id(link_id) and link_id not in passed else None
        origin = nodes.get(link.from_node) if link is not None and _is_id(link.from_node) else None
        if origin is None or origin.get("mode") == MODE_MUTED:
            return None
        if origin["type"] == "Reroute":
            upstream = (origin.get("inputs") or [{}])[0].get("link")
            return source(upstream, passed | {link_id}) if upstream is not None else None
        if origin["type"] == "PrimitiveNode":
            values = origin.get("widgets_values") or [None]
            return _Constant(values[0] if isinstance(values, list) else None)
        if origin.get("mode") == MODE_BYPASSED:
            upstream = _bypass_input(origin, link)
            return source(upstream, passed | {link_id}) if upstream is not None else None
        return str(origin["id"]), link.from_slot

    api: dict[str, dict] = {}
    for node_id in sorted(nodes, key=_id_sort_key):
        node = nodes[node_id]
        if node["type"] in (*NOTE_TYPES, "Reroute", "PrimitiveNode") or node.get("mode") in (MODE_MUTED, MODE_BYPASSED):
            continue
        definition = definitions(node["type"])
        if definition is None:
            raise WorkflowFormatError(
                f"node {node_id} has type '{node['type']}', which this runner does not know, so its widget values "
                "cannot be named; convert with --remote URL (definitions from that ComfyUI server) or export "
                "the workflow in API format from the editor"
            )
        inputs = _widget_values(node, definition)
        for socket in node.get("inputs") or []:
            if socket.get("link") is None:
                continue
            found = source(socket["link"])
            if found is None:
                inputs.pop(socket["name"], None)
            elif isinstance(found, _Constant):
                inputs[socket["name"]] = found.value
            else:
                inputs[socket["name"]] = list(found)
        api[str(node_id)] = {
            "inputs": inputs,
            "class_type": node["type"],
            "_meta": {"title": node.get("title") or definition.display_name},
        }
    return api


def _id_sort_key(node_id: Any) -> tuple:
    return (0, int(node_id), "") if str(node_id).isdigit() else (1, 0, str(node_id))


def _bypass_input(node: Mapping[str, Any], link: _Link) -> int | None:
    """The link a bypassed node passes on for its output ``link.from_slot``: its input of that type."""
    inputs = node.get("inputs") or []
    wanted = link.type
    same_slot = inputs[link.from_slot] if 0 <= link.from_slot < len(inputs) else None
    candidates = ([same_slot] if same_slot is not None else []) + list(inputs)
    for candidate in candidates:
        if candidate.get("link") is not None and (
            candidate.get("type") == wanted or "*" in (candidate.get("type"), wanted)
        ):
            return candidate["link"]
    return None


def _widget_values(node: Mapping[str, Any], definition: NodeDefinition) -> dict[str, Any]:
    values = node.get("widgets_values")
    widgets = _widget_inputs(definition)
    if isinstance(values, dict):
        return {name: values[name] for name, _, _ in widgets if name in values}
    inputs = {}
    position = 0
    for name, input_type, options in widgets:
        if position < len(values or []):
            inputs[name] = values[position]
        position += 1 + extra_widget_values(name, input_type, options)
    return inputs


def api_to_ui(
    api: Mapping[str, dict], node_classes: NodeClasses | None = None, *, definitions: Definitions | None = None
) -> dict[str, Any]:
    """An API-format workflow -> UI format, nodes laid out left to right by depth.

    API ids must be integers (as the editor writes them); they are kept.
    """
    definitions = definitions or local_definitions(node_classes or {})
    if not all(str(node_id).isdigit() for node_id in api):
        raise WorkflowFormatError("the UI format needs integer node ids; renumber the workflow's nodes 1, 2, 3, ...")
    node_ids = sorted(api, key=int)
    resolved = {}
    for node_id in node_ids:
        definition = definitions(api[node_id]["class_type"])
        if definition is None:
            raise WorkflowFormatError(f"node {node_id} has unknown type '{api[node_id]['class_type']}'")
        resolved[node_id] = definition
    depth = _depths(api)
    positions = _layout(node_ids, depth)
    links: list[list] = []
    outgoing: dict[tuple[str, int], list[int]] = defaultdict(list)
    ui_nodes = []
    for order, node_id in enumerate(sorted(node_ids, key=lambda item: (depth[item], int(item)))):
        node, definition = api[node_id], resolved[node_id]
        declared = declared_inputs(definition.input_types)
        sockets = [(name, spec) for name, spec in declared.items() if not is_widget(spec[1], spec[2])]
        sockets += [
            (name, spec)
            for name, spec in declared.items()
            if is_widget(spec[1], spec[2]) and is_link(node["inputs"].get(name))
        ]
        ui_inputs = []
        for slot, (name, (_, input_type, options)) in enumerate(sockets):
            entry = {"name": name, "type": "COMBO" if isinstance(input_type, list) else input_type, "link": None}
            if is_widget(input_type, options):
                entry["widget"] = {"name": name}
            value = node["inputs"].get(name)
            if is_link(value):
                link_id = len(links) + 1
                links.append(
                    [link_id, int(value[0]), value[1], int(node_id), slot, resolved[value[0]].return_types[value[1]]]
                )
                outgoing[(value[0], value[1])].append(link_id)
                entry["link"] = link_id
            ui_inputs.append(entry)
        ui_node = {
            "id": int(node_id),
            "type": node["class_type"],
            "pos": positions[node_id],
            "size": [
                320,
                46 + 22 * max(len(ui_inputs), len(definition.return_types)) + 26 * len(_widget_inputs(definition)),
            ],
            "flags": {},
            "order": order,
            "mode": 0,
            "inputs": ui_inputs,
            "outputs": [],
            "properties": {"Node name for S&R": node["class_type"]},
            "widgets_values": _export_widget_values(node["inputs"], definition),
        }
        title = (node.get("_meta") or {}).get("title")
        if title and title != definition.display_name:
            ui_node["title"] = title
        ui_nodes.append(ui_node)
    for ui_node in ui_nodes:
        definition = resolved[str(ui_node["id"])]
        ui_node["outputs"] = [
            {
                "name": name,
                "type": output_type,
                "links": outgoing.get((str(ui_node["id"]), slot), []),
                "slot_index": slot,
            }
            for slot, (output_type, name) in enumerate(
                zip(definition.return_types, definition.return_names, strict=True)
            )
        ]
    ui_nodes.sort(key=lambda item: item["id"])
    return {
        "last_node_id": max((node["id"] for node in ui_nodes), default=0),
        "last_link_id": len(links),
        "nodes": ui_nodes,
        "links": links,
        "groups": [],
        "config": {},
        "extra": {"ds": {"scale": 1, "offset": [0, 0]}},
        "version": 0.4,
    }


def _export_widget_values(inputs: Mapping[str, Any], definition: NodeDefinition) -> list:
    values = []
    for name, input_type, options in _widget_inputs(definition):
        value = inputs.get(name)
        if value is None or is_link(value):
            value = options.get("default", input_type[0] if isinstance(input_type, list) and input_type else None)
        values.append(value)
        if options.get("control_after_generate") or (input_type == "INT" and name in SEED_NAMES):
            values.append("fixed")
        if options.get("image_upload") or options.get("video_upload"):
            values.append("image")  # the upload button's value, as the editor stores it for images and videos
    return values


def _depths(api: Mapping[str, dict]) -> dict[str, int]:
    """Longest path from a node without linked inputs (validated workflows have no cycles)."""
    depth: dict[str, int] = {}

    def visit(node_id: str) -> int:
        if node_id not in depth:
            parents = [value[0] for value in api[node_id]["inputs"].values() if is_link(value) and value[0] in api]
            depth[node_id] = 1 + max((visit(parent) for parent in parents), default=-1)
        return depth[node_id]

    for node_id in api:
        visit(node_id)
    return depth


def _layout(node_ids: list[str], depth: Mapping[str, int]) -> dict[str, list[int]]:
    """Columns by depth, 400 px apart; nodes of a column stacked 320 px apart in id order."""
    rows: dict[int, int] = defaultdict(int)
    positions = {}
    for node_id in sorted(node_ids, key=lambda item: (depth[item], int(item))):
        column = depth[node_id]
        positions[node_id] = [50 + 400 * column, 50 + 320 * rows[column]]
        rows[column] += 1
    return positions
