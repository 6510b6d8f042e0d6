"""UI-format workflows: editor files converted to API format, the exporter, and the saved twins in workflows/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from executor_nodes import TEST_NODES
from playalter.runner.engine.core_nodes import CORE_NODE_CLASSES
from playalter.runner.engine.executor import execute
from playalter.runner.engine.registry import default_node_classes
from playalter.runner.engine.ui_format import api_to_ui, ui_to_api
from playalter.runner.engine.errors import WorkflowValidationError
from playalter.runner.engine.workflow import WorkflowFormatError, load_workflow

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
NODES = {**TEST_NODES, **CORE_NODE_CLASSES}


def editor_workflow() -> dict:
    return json.loads((DATA / "ui_workflow_editor.json").read_text())


def test_editor_file_with_muted_bypassed_reroute_primitive_and_notes_converts():
    api = ui_to_api(editor_workflow(), NODES)
    assert api == {
        "1": {"inputs": {"image": "photo.png"}, "class_type": "LoadImage", "_meta": {"title": "image"}},
        "2": {
            "inputs": {"filename_prefix": "faces", "images": ["1", 0]},
            "class_type": "SaveImage",
            "_meta": {"title": "Save Image"},
        },
        "3": {
            "inputs": {"mode": "exact", "seed": 42, "scale": 1.25, "label": "lbl"},
            "class_type": "Choice",
            "_meta": {"title": "settings"},
        },
        "4": {"inputs": {"value": ["3", 0]}, "class_type": "Report", "_meta": {"title": "Report"}},
        "6": {"inputs": {"value": 7}, "class_type": "Number", "_meta": {"title": "Number"}},
        "8": {"inputs": {"b": 2, "a": ["6", 0]}, "class_type": "Add", "_meta": {"title": "Add"}},
        "9": {"inputs": {"value": ["8", 0]}, "class_type": "Report", "_meta": {"title": "Report"}},
        "11": {"inputs": {}, "class_type": "Report", "_meta": {"title": "Report"}},
        "13": {"inputs": {"b": 5, "a": ["6", 0]}, "class_type": "Add", "_meta": {"title": "Add"}},
        "14": {"inputs": {"value": ["13", 0]}, "class_type": "Report", "_meta": {"title": "Report"}},
    }


def test_converted_editor_file_runs_once_the_muted_branch_is_removed(tmp_path):
    api = load_workflow(editor_workflow(), NODES)
    del api["11"]  # its only input came from a muted node
    _write_png(tmp_path / "photo.png")
    result = execute(api, node_classes=NODES, input_dir=tmp_path, output_dir=tmp_path / "out")
    assert [json.loads(result.outputs[node_id]["json"][0])["value"] for node_id in ("4", "9", "14")] == [
        "exact-42-1.25-lbl",
        7 + 2,
        7 + 5,
    ]
    assert result.outputs["2"]["images"][0].filename == "faces_00001_.png"


def _write_png(path: Path) -> None:
    import numpy as np
    from PIL import Image

    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(path)


def test_links_in_object_form_are_read():
    ui = editor_workflow()
    ui["links"] = [
        {
            "id": link[0],
            "origin_id": link[1],
            "origin_slot": link[2],
            "target_id": link[3],
            "target_slot": link[4],
            "type": link[5],
        }
        for link in ui["links"]
    ]
    assert ui_to_api(ui, NODES) == ui_to_api(editor_workflow(), NODES)


def test_widgets_values_as_dict_are_mapped_by_name():
    ui = {
        "nodes": [{"id": 1, "type": "Number", "mode": 0, "widgets_values": {"value": 4}, "inputs": [], "outputs": []}],
        "links": [],
    }
    assert ui_to_api(ui, NODES)["1"]["inputs"] == {"value": 4}


def test_unknown_node_type_is_a_clear_error():
    ui = {"nodes": [{"id": 1, "type": "KSampler", "mode": 0, "widgets_values": [1, "fixed"]}], "links": []}
    with pytest.raises(WorkflowFormatError, match="KSampler.*--remote"):
        ui_to_api(ui, NODES)


SAVE = {"id": 3, "type": "SaveImage", "inputs": [{"name": "images", "link": 3}], "widgets_values": ["x"]}
MALFORMED_UI = {  # each raised ValueError, TypeError, AttributeError or RecursionError before
    "short link": {"nodes": [SAVE], "links": [[3, 1, 0]]},
    "links not a list": {"nodes": [SAVE], "links": {"3": [3, 1, 0, 3, 0, "IMAGE"]}},
    "node not an object": {"nodes": [5], "links": []},
    "inputs not a list": {"nodes": [{**SAVE, "inputs": "images"}], "links": []},
    "widgets a string": {"nodes": [{**SAVE, "widgets_values": "x"}], "links": []},
}


@pytest.mark.parametrize("name", MALFORMED_UI)
def test_a_malformed_editor_file_is_a_format_error(name):
    with pytest.raises(WorkflowFormatError):
        ui_to_api(MALFORMED_UI[name], NODES)


def test_a_circle_of_reroute_or_bypassed_nodes_leads_nowhere():
    for kind, mode in [("Reroute", 0), ("Invert", 4)]:
        circle = [{"id": 1, "type": kind, "mode": mode, "inputs": [{"name": "image", "type": "IMAGE", "link": 2}]},
                  {"id": 2, "type": kind, "mode": mode, "inputs": [{"name": "image", "type": "IMAGE", "link": 1}]}]
        ui = {"nodes": [*circle, SAVE],
              "links": [[1, 1, 0, 2, 0, "IMAGE"], [2, 2, 0, 1, 0, "IMAGE"], [3, 1, 0, 3, 0, "IMAGE"]]}
        assert "images" not in ui_to_api(ui, NODES)["3"]["inputs"]


@pytest.mark.parametrize("node", [5, {"class_type": 5, "inputs": {}}, {"class_type": "SaveImage", "inputs": [1]}])
def test_an_api_node_of_the_wrong_shape_is_comfyuis_invalid_prompt(node):
    with pytest.raises(WorkflowValidationError) as raised:
        load_workflow({"1": node})
    assert raised.value.error["type"] == "invalid_prompt"
    with pytest.raises(WorkflowFormatError):
        load_workflow([node])


@pytest.mark.parametrize("content", [b"[" * 100_000 + b"]" * 100_000, b'{"1": ' + b"9" * 5000 + b"}", None])
def test_an_unreadable_workflow_file_is_a_format_error(tmp_path, content):
    path = tmp_path / "workflow.json"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(WorkflowFormatError, match="workflow file"):
        load_workflow(path)


def test_bypassed_node_without_matching_input_drops_the_link():
    ui = editor_workflow()
    bypassed = next(node for node in ui["nodes"] if node["id"] == 7)
    bypassed["inputs"][0]["type"] = "IMAGE"
    assert "a" not in ui_to_api(ui, NODES)["8"]["inputs"]


def test_exporter_round_trip_lays_out_by_depth_and_keeps_values():
    api = ui_to_api(editor_workflow(), NODES)
    del api["11"]
    ui = api_to_ui(api, NODES)
    assert ui_to_api(ui, NODES) == api
    by_id = {node["id"]: node for node in ui["nodes"]}
    assert by_id[3]["widgets_values"] == ["exact", 42, "fixed", 1.25, "lbl"]  # seed carries its control value
    assert by_id[1]["widgets_values"] == ["photo.png", "image"]  # LoadImage's upload widget
    assert by_id[1]["title"] == "image" and "title" not in by_id[2]
    assert by_id[1]["pos"][0] < by_id[2]["pos"][0]  # source left of its consumer
    assert by_id[6]["pos"][0] < by_id[8]["pos"][0] < by_id[9]["pos"][0]
    for link_id, from_node, from_slot, to_node, to_slot, link_type in ui["links"]:
        assert by_id[to_node]["inputs"][to_slot]["link"] == link_id
        assert link_id in by_id[from_node]["outputs"][from_slot]["links"]
        assert by_id[from_node]["outputs"][from_slot]["type"] == link_type
    assert ui["last_link_id"] == len(ui["links"]) and ui["last_node_id"] == 14


def test_exporter_marks_linked_widgets_as_widget_inputs():
    api = {
        "1": {"class_type": "Number", "inputs": {"value": 3}},
        "2": {"class_type": "Choice", "inputs": {"mode": "fast", "seed": ["1", 0], "scale": 1.0}},
        "3": {"class_type": "Report", "inputs": {"value": ["2", 0]}},
    }
    ui = api_to_ui(api, NODES)
    choice = next(node for node in ui["nodes"] if node["id"] == 2)
    assert choice["inputs"] == [{"name": "seed", "type": "INT", "link": 1, "widget": {"name": "seed"}}]
    assert ui_to_api(ui, NODES)["2"]["inputs"]["seed"] == ["1", 0]


def test_exporter_needs_integer_ids():
    with pytest.raises(WorkflowFormatError, match="integer node ids"):
        api_to_ui({"load": {"class_type": "Number", "inputs": {"value": 1}}}, NODES)


def _workflow_names() -> list[str]:
    return sorted(path.stem for path in (REPO / "workflows" / "api").glob("*.json"))


def with_widget_defaults(api: dict, node_classes: dict) -> dict:
    """``api`` with omitted widget inputs set to their declared defaults, as the editor always stores a value."""
    from playalter.runner.engine.registry import declared_inputs, is_widget

    filled = {}
    for node_id, node in api.items():
        declared = declared_inputs(node_classes[node["class_type"]].INPUT_TYPES())
        defaults = {
            name: options["default"]
            for name, (_, input_type, options) in declared.items()
            if is_widget(input_type, options) and "default" in options
        }
        filled[node_id] = {**node, "inputs": {**defaults, **node["inputs"]}}
    return filled


@pytest.mark.parametrize("name", _workflow_names())
def test_every_api_workflow_has_a_ui_twin_that_converts_back_to_it(name):
    ui_path = REPO / "workflows" / "ui" / f"{name}.json"
    assert ui_path.is_file(), f"generate it: playalter convert workflows/api/{name}.json --to ui -o {ui_path}"
    api = json.loads((REPO / "workflows" / "api" / f"{name}.json").read_text())
    classes = default_node_classes()
    assert load_workflow(ui_path, classes) == with_widget_defaults(api, classes)


def test_newer_editor_files_listing_every_widget_as_an_input_convert_the_same():
    ui = editor_workflow()
    choice = next(node for node in ui["nodes"] if node["id"] == 3)
    choice["inputs"] = [
        {"localized_name": name, "name": name, "type": kind, "widget": {"name": name}, "link": None}
        for name, kind in (("mode", "COMBO"), ("seed", "INT"), ("scale", "FLOAT"), ("label", "STRING"))
    ]
    assert ui_to_api(ui, NODES) == ui_to_api(editor_workflow(), NODES)
