"""The local executor: validation errors, list semantics, progress, cancellation, failures, bindings, core nodes."""

from __future__ import annotations

import io
import json
import threading

import numpy as np
import pytest
from PIL import Image

from executor_nodes import TEST_NODES, Add, Slow
from playalter.runner.engine.core_nodes import CORE_NODE_CLASSES
from playalter.runner.engine.errors import BindingError, NodeExecutionError, WorkflowCancelled, WorkflowValidationError
from playalter.runner.engine.executor import execute, validate

NODES = {**TEST_NODES, **CORE_NODE_CLASSES}


def node(class_type: str, title: str | None = None, **inputs) -> dict:
    entry = {"class_type": class_type, "inputs": inputs}
    if title:
        entry["_meta"] = {"title": title}
    return entry


def run(prompt, **kwargs):
    return execute(prompt, node_classes=NODES, **kwargs)


def validation_error(prompt, **kwargs) -> WorkflowValidationError:
    with pytest.raises(WorkflowValidationError) as caught:
        validate(prompt, node_classes=NODES, **kwargs)
    return caught.value


def reported(result, node_id: str) -> object:
    return json.loads(result.outputs[node_id]["json"][0])["value"]


# -- validation ---------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt, node_id, kind, input_name",
    [
        (
            {"1": node("Number", value=1), "2": node("Add", a=["1", 0]), "3": node("Report", value=["2", 0])},
            "2",
            "required_input_missing",
            "b",
        ),
        ({"1": node("Number", value="many"), "3": node("Report", value=["1", 0])}, "1", "invalid_input_type", "value"),
        ({"1": node("Number", value=-1), "3": node("Report", value=["1", 0])}, "1", "value_smaller_than_min", "value"),
        ({"1": node("Number", value=101), "3": node("Report", value=["1", 0])}, "1", "value_bigger_than_max", "value"),
        (
            {"1": node("Choice", mode="slow", seed=1, scale=1.0), "3": node("Report", value=["1", 0])},
            "1",
            "value_not_in_list",
            "mode",
        ),
        ({"1": node("Even", value=3), "3": node("Report", value=["1", 0])}, "1", "custom_validation_failed", "value"),
        (
            {
                "1": node("Choice", mode="fast", seed=1, scale=1.0),
                "2": node("Add", a=["1", 0], b=0),
                "3": node("Report", value=["2", 0]),
            },
            "2",
            "return_type_mismatch",
            "a",
        ),
    ],
)
def test_each_validation_error_is_shaped_like_comfyui(prompt, node_id, kind, input_name):
    error = validation_error(prompt)
    assert error.error["type"] == "prompt_outputs_failed_validation"
    entry = error.node_errors[node_id]
    assert entry["class_type"] == prompt[node_id]["class_type"]
    assert [reason["type"] for reason in entry["errors"]] == [kind]
    reason = entry["errors"][0]
    assert set(reason) == {"type", "message", "details", "extra_info"}
    assert reason["extra_info"]["input_name"] == input_name
    assert entry["dependent_outputs"]
    assert error.to_dict() == {"error": error.error, "node_errors": error.node_errors}


def test_custom_validation_message_is_kept():
    error = validation_error({"1": node("Even", value=3), "2": node("Report", value=["1", 0])})
    assert "3 is odd" in error.node_errors["1"]["errors"][0]["details"]


def test_errors_of_several_nodes_are_all_reported_with_their_outputs():
    prompt = {
        "1": node("Number", value=500),
        "2": node("Report", value=["1", 0]),
        "3": node("Add", a=["1", 0], b=99),
        "4": node("Report", value=["3", 0]),
    }
    error = validation_error(prompt)
    assert sorted(error.node_errors["1"]["dependent_outputs"]) == ["2", "4"]
    assert error.node_errors["3"]["dependent_outputs"] == ["4"]
    assert "2" not in error.node_errors and "4" not in error.node_errors


@pytest.mark.parametrize(
    "prompt, kind",
    [
        ({}, "invalid_prompt"),
        ({"1": {"inputs": {}}}, "invalid_prompt"),
        ({"1": node("Number", value=1)}, "prompt_no_outputs"),
        (
            {"1": node("Add", a=["2", 0], b=0), "2": node("Add", a=["1", 0], b=0), "3": node("Report", value=["1", 0])},
            "invalid_prompt",
        ),
    ],
)
def test_prompt_level_errors(prompt, kind):
    error = validation_error(prompt)
    assert error.error["type"] == kind
    assert error.node_errors == {}


def test_unknown_class_suggests_remote_mode():
    error = validation_error({"1": node("KSampler", seed=1), "2": node("Report", value=["1", 0])})
    assert error.error["type"] == "invalid_prompt"
    assert "KSampler" in error.error["message"]
    assert "--remote" in error.error["extra_info"]["hint"]


def test_bad_links_are_reported_not_raised():
    error = validation_error({"1": node("Report", value=["9", 0])})
    assert error.node_errors["1"]["errors"][0]["type"] == "bad_linked_input"
    error = validation_error({"1": node("Number", value=1), "2": node("Report", value=["1", 3])})
    assert error.node_errors["2"]["errors"][0]["type"] == "bad_linked_input"


def test_nothing_runs_when_validation_fails():
    Add.calls = 0
    prompt = {
        "1": node("Number", value=1),
        "2": node("Add", a=["1", 0], b=1),
        "3": node("Report", value=["2", 0]),
        "4": node("Number", value=-5),
        "5": node("Report", value=["4", 0]),
    }
    with pytest.raises(WorkflowValidationError):
        run(prompt)
    assert Add.calls == 0


def test_values_are_converted_to_declared_types():
    result = run({"1": node("Choice", mode="fast", seed="7", scale="0.5"), "2": node("Report", value=["1", 0])})
    assert reported(result, "2") == "fast-7-0.5-x"


# -- execution ----------------------------------------------------------------


def test_only_ancestors_of_outputs_run():
    Add.calls = 0
    prompt = {
        "1": node("Number", value=2),
        "2": node("Add", a=["1", 0], b=3),
        "3": node("Report", value=["2", 0]),
        "4": node("Add", a=["1", 0], b=1),
    }  # not connected to an output
    result = run(prompt)
    assert reported(result, "3") == 5
    assert Add.calls == 1
    assert list(result.outputs) == ["3"]


def test_output_is_list_maps_downstream_nodes_over_the_list_and_input_is_list_gathers_it():
    prompt = {
        "1": node("Range", count=4),
        "2": node("Add", a=["1", 0], b=10),
        "3": node("Sum", values=["2", 0]),
        "4": node("Report", value=["3", 0]),
        "5": node("Report", value=["2", 0]),
    }
    result = run(prompt)
    assert reported(result, "4") == 10 + 11 + 12 + 13
    assert [json.loads(text)["value"] for text in result.outputs["5"]["json"]] == [10, 11, 12, 13]


def test_empty_list_runs_nothing_downstream():
    prompt = {"1": node("Range", count=0), "2": node("Add", a=["1", 0], b=1), "3": node("Report", value=["2", 0])}
    assert run(prompt).outputs["3"]["json"] == []


def test_progress_events_cover_every_node_in_order():
    Slow.on_step = None
    events = []
    prompt = {"1": node("Slow", steps=3), "2": node("Report", value=["1", 0])}
    run(prompt, on_progress=events.append)
    assert [(event.kind, event.node_id) for event in events] == [
        ("start", None),
        ("node_start", "1"),
        ("node_progress", "1"),
        ("node_progress", "1"),
        ("node_progress", "1"),
        ("node_finish", "1"),
        ("node_start", "2"),
        ("node_finish", "2"),
        ("finish", None),
    ]
    assert [(event.value, event.max) for event in events if event.kind == "node_progress"] == [(1, 3), (2, 3), (3, 3)]
    assert events[0].nodes_total == 2 and events[-1].nodes_done == 2


def test_cancel_inside_a_node_stops_the_run():
    cancel = threading.Event()
    Slow.on_step = lambda step: cancel.set() if step == 1 else None
    try:
        with pytest.raises(WorkflowCancelled) as caught:
            run({"1": node("Slow", steps=5), "2": node("Report", value=["1", 0])}, cancel_event=cancel)
    finally:
        Slow.on_step = None
    assert caught.value.node_id == "1"


def test_cancel_before_start_runs_nothing():
    Add.calls = 0
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(WorkflowCancelled):
        run(
            {"1": node("Number", value=1), "2": node("Add", a=["1", 0], b=0), "3": node("Report", value=["2", 0])},
            cancel_event=cancel,
        )
    assert Add.calls == 0


def test_node_exception_names_node_and_class_without_traceback():
    with pytest.raises(NodeExecutionError) as caught:
        run({"1": node("Fail", value=0), "2": node("Report", value=["1", 0])})
    error = caught.value
    assert (error.node_id, error.class_type, error.exception_type) == ("1", "Fail", "ZeroDivisionError")
    assert "Traceback" not in str(error) and "modulo by zero" in str(error)
    assert error.to_dict()["node_id"] == "1"


def test_thread_state_is_cleared_after_a_run(tmp_path):
    from playalter.nodes import compat

    run({"1": node("Number", value=1), "2": node("Report", value=["1", 0])}, output_dir=tmp_path)
    assert compat.folder("output") != tmp_path


# -- bindings -----------------------------------------------------------------


def png_bytes(width=80, height=64, color=(200, 10, 10), alpha=None) -> bytes:
    pixels = np.zeros((height, width, 4 if alpha is not None else 3), np.uint8)
    pixels[..., :3] = color
    if alpha is not None:
        pixels[..., 3] = alpha
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def image_workflow() -> dict:
    return {
        "1": node("LoadImage", "image", image="missing.png"),
        "2": node("SaveImage", "result", images=["1", 0], filename_prefix="run"),
    }


def test_bind_widget_by_title_and_by_id():
    prompt = {
        "1": node("Number", "count", value=1),
        "2": node("Add", "plus", a=["1", 0], b=0),
        "3": node("Report", value=["2", 0]),
    }
    assert reported(run(prompt, bindings={"count.value": 20, "2.b": 5}), "3") == 25


def test_binding_a_title_with_a_dot():
    prompt = {"1": node("Number", "face.count", value=1), "2": node("Report", value=["1", 0])}
    assert reported(run(prompt, bindings={"face.count.value": 9}), "2") == 9


@pytest.mark.parametrize(
    "bindings, fragment",
    [
        ({"nobody.value": 1}, "names no node"),
        ({"count.nothing": 1}, "has no input 'nothing'"),
        ({"2.a": 1}, "connected to another node"),
        ({"count": 1}, "has no image to bind"),
        ({"count.value": b"bytes"}, "not a file"),
    ],
)
def test_bad_bindings_are_clear_errors(bindings, fragment):
    prompt = {
        "1": node("Number", "count", value=1),
        "2": node("Add", a=["1", 0], b=0),
        "3": node("Report", value=["2", 0]),
    }
    with pytest.raises(BindingError, match=fragment):
        run(prompt, bindings=bindings)


def test_ambiguous_title_is_refused():
    prompt = {"1": node("Number", "n", value=1), "2": node("Number", "n", value=2), "3": node("Report", value=["1", 0])}
    with pytest.raises(BindingError, match="shared by nodes 1, 2"):
        run(prompt, bindings={"n.value": 3})


def test_bound_bytes_are_loaded_and_saved_with_comfyui_names(tmp_path):
    result = run(image_workflow(), bindings={"image": png_bytes()}, output_dir=tmp_path)
    result = run(image_workflow(), bindings={"image": png_bytes()}, output_dir=tmp_path)
    (image,) = result.outputs["2"]["images"]
    assert (image.filename, image.subfolder, image.type) == ("run_00002_.png", "", "output")
    assert image.path == tmp_path.resolve() / "run_00002_.png"
    saved = np.asarray(Image.open(image.path))
    assert saved.shape == (64, 80, 3) and tuple(saved[0, 0]) == (200, 10, 10)
    assert result.outputs["2"]["title"] == "result"
    assert not list(tmp_path.glob("bound*")), "bound bytes must not be written to a folder"


def test_saved_images_carry_the_workflow_only_when_the_setting_asks(tmp_path, monkeypatch):
    from playalter.pipelines.core import config

    photo = tmp_path / "holiday_of_alice.png"
    photo.write_bytes(png_bytes())
    plain = run(image_workflow(), bindings={"image": photo}, output_dir=tmp_path / "out")
    assert Image.open(plain.images()[0].path).info == {}
    monkeypatch.setenv("PLAYALTER__EMBED_WORKFLOW_IN_IMAGES", "true")
    config.reset_settings()
    try:
        tagged = run(image_workflow(), bindings={"image": photo}, output_dir=tmp_path / "out")
    finally:
        monkeypatch.delenv("PLAYALTER__EMBED_WORKFLOW_IN_IMAGES")
        config.reset_settings()
    embedded = json.loads(Image.open(tagged.images()[0].path).info["prompt"])
    assert embedded["2"]["class_type"] == "SaveImage"


def test_bound_path_and_input_folder_name(tmp_path):
    photo = tmp_path / "photo.png"
    photo.write_bytes(png_bytes(color=(0, 0, 255)))
    result = run(image_workflow(), bindings={"image": photo}, output_dir=tmp_path / "out")
    assert tuple(np.asarray(Image.open(result.images()[0].path))[5, 5]) == (0, 0, 255)
    result = run(image_workflow(), bindings={"image": "photo.png"}, input_dir=tmp_path, output_dir=tmp_path / "out")
    assert result.images()[0].filename == "run_00002_.png"


def test_load_image_mask_comes_from_alpha(tmp_path):
    from playalter.runner.engine.core_nodes import LoadImage
    from playalter.runner.engine.injected_inputs import set_injected_images

    set_injected_images({"x": png_bytes(alpha=64)})
    try:
        image, mask = LoadImage().load_image("x")
    finally:
        set_injected_images(None)
    assert tuple(image.shape) == (1, 64, 80, 3) and tuple(mask.shape) == (1, 64, 80)
    assert mask.min().item() == pytest.approx(1 - 64 / 255)


def test_save_image_subfolder_prefix_and_preview(tmp_path):
    prompt = {
        "1": node("LoadImage", "image", image="x"),
        "2": node("SaveImage", images=["1", 0], filename_prefix="faces/a"),
        "3": node("PreviewImage", images=["1", 0]),
    }
    result = run(prompt, bindings={"image": png_bytes()}, output_dir=tmp_path)
    (saved,) = result.outputs["2"]["images"]
    assert (saved.subfolder, saved.filename) == ("faces", "a_00001_.png") and saved.path.is_file()
    (preview,) = result.outputs["3"]["images"]
    assert preview.type == "temp" and preview.path.is_file() and tmp_path not in preview.path.parents
    result = run(prompt, bindings={"image": png_bytes()}, output_dir=tmp_path, temp_dir=tmp_path / "temp")
    assert result.outputs["3"]["images"][0].path.parent == (tmp_path / "temp").resolve()


@pytest.mark.parametrize("name", ["../secret.png", "/etc/passwd", "sub/../../x.png", "link.png"])
def test_load_image_refuses_names_leaving_the_input_folder(tmp_path, name):
    inputs = tmp_path / "in"
    inputs.mkdir()
    (tmp_path / "secret.png").write_bytes(png_bytes())
    (inputs / "link.png").symlink_to(tmp_path / "secret.png")
    error = validation_error(
        {"1": node("LoadImage", image=name), "2": node("PreviewImage", images=["1", 0])}, input_dir=inputs
    )
    [reason] = error.node_errors["1"]["errors"]
    if name == "link.png":  # only the file system can tell: LoadImage's own check
        assert reason["type"] == "custom_validation_failed" and "not allowed" in reason["details"]
    else:  # refused by its name alone, before the node looks at the file system
        assert reason["type"] == "invalid_file_name" and reason["details"].startswith("image: ")


@pytest.mark.parametrize("prefix, problem", [("../escape", "'..'"), ("/tmp/abs", "absolute"), ("a/../../b", "'..'"),
                                             ("bad\x00name", "control character"), ("n" * 201, "at most 200"),
                                             ("", "empty")])
def test_save_image_refuses_bad_prefixes_before_running(tmp_path, prefix, problem):
    prompt = {"1": node("LoadImage", image="x"), "2": node("SaveImage", images=["1", 0], filename_prefix=prefix)}
    with pytest.raises(WorkflowValidationError) as caught:
        run(prompt, bindings={"1": png_bytes()}, output_dir=tmp_path / "out")
    [reason] = caught.value.node_errors["2"]["errors"]
    assert reason["type"] == "invalid_file_name" and problem in reason["details"]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.png"))
    assert not (tmp_path / "escape_00001_.png").exists()


def test_unreadable_image_is_a_clear_node_error(tmp_path):
    with pytest.raises(NodeExecutionError) as caught:
        run(image_workflow(), bindings={"image": b"not an image"}, output_dir=tmp_path)
    assert caught.value.class_type == "LoadImage" and caught.value.cause_code == "invalid_image"


def test_save_json_node_writes_numbered_files_and_reports_text(tmp_path):
    from playalter.nodes.io import PlayAlterSaveJSON

    nodes = {**NODES, "PlayAlterSaveJSON": PlayAlterSaveJSON, "Text": _text_node('{"a": 1}')}
    prompt = {"1": node("Text"), "2": node("PlayAlterSaveJSON", json_text=["1", 0], filename_prefix="m")}
    result = execute(prompt, node_classes=nodes, output_dir=tmp_path)
    assert result.json() == ['{"a": 1}']
    (file_ref,) = result.outputs["2"]["files"]
    assert file_ref.filename == "m_00001_.json" and json.loads(file_ref.path.read_text()) == {"a": 1}
    invalid = {**nodes, "Text": _text_node("not json")}
    with pytest.raises(NodeExecutionError, match="not valid JSON"):
        execute(prompt, node_classes=invalid, output_dir=tmp_path)


def _text_node(text: str) -> type:
    class Text:
        RETURN_TYPES = ("STRING",)
        FUNCTION = "make"

        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {}}

        def make(self):
            return (text,)

    return Text


def test_default_registry_has_pack_and_core_nodes():
    from playalter.runner.engine.registry import default_node_classes

    classes = default_node_classes()
    assert {"LoadImage", "SaveImage", "PreviewImage", "PlayAlterSaveJSON"} <= set(classes)


def test_numbered_files_continue_after_the_highest_existing_counter(tmp_path):
    from playalter.nodes.files import reserve_numbered_file

    (tmp_path / "run_00007_.png").write_bytes(b"")
    (tmp_path / "run_b_00050_.png").write_bytes(b"")  # another prefix
    (tmp_path / "runner_00090_.png").write_bytes(b"")
    first = reserve_numbered_file(tmp_path, "run", "json")
    second = reserve_numbered_file(tmp_path, "run", "png")
    assert (first.filename, second.filename) == ("run_00001_.json", "run_00008_.png")  # one counter per extension
    assert first.path.is_file() and first.subfolder == ""
