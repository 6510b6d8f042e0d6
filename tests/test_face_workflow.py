"""The saved detect_faces workflow refers to real nodes, inputs and outputs."""

from __future__ import annotations

import json
from pathlib import Path

from playalter.nodes import NODE_CLASS_MAPPINGS

WORKFLOW = Path(__file__).resolve().parents[1] / "workflows" / "api" / "detect_faces.json"
CORE_OUTPUTS = {"LoadImage": ("IMAGE", "MASK"), "SaveImage": ()}


def test_detect_faces_workflow_is_wired_to_the_pack_nodes():
    graph = json.loads(WORKFLOW.read_text())
    titles = {node["_meta"]["title"]: node["class_type"] for node in graph.values()}
    assert titles["image"] == "LoadImage"
    for node in graph.values():
        node_class = NODE_CLASS_MAPPINGS.get(node["class_type"])
        if node_class is None:
            assert node["class_type"] in CORE_OUTPUTS
            continue
        spec = node_class.INPUT_TYPES()
        known = {**spec["required"], **spec.get("optional", {})}
        assert set(spec["required"]) <= set(node["inputs"]) and set(node["inputs"]) <= set(known)
        for name, value in node["inputs"].items():
            if isinstance(value, list):  # a link [source id, output index]: its type must match
                source = graph[value[0]]["class_type"]
                outputs = NODE_CLASS_MAPPINGS[source].RETURN_TYPES if source in NODE_CLASS_MAPPINGS \
                    else CORE_OUTPUTS[source]
                assert outputs[value[1]] == known[name][0]
            elif isinstance(known[name][0], list):
                assert value in known[name][0]
    save = next(node for node in graph.values() if node["class_type"] == "SaveImage")
    source, index = save["inputs"]["images"]
    assert NODE_CLASS_MAPPINGS[graph[source]["class_type"]].RETURN_NAMES[index] == "preview"
