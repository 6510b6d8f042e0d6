"""Remote mode against a real HTTP + websocket server speaking ComfyUI's protocol (tests/comfy_fake_server.py)."""

from __future__ import annotations

import io
import json
import os
import threading

import numpy as np
import pytest
from PIL import Image

from comfy_fake_server import FakeComfyUI
from executor_nodes import TEST_NODES, Slow
from playalter.runner.engine.core_nodes import CORE_NODE_CLASSES
from playalter.runner.engine.errors import (
    NodeExecutionError,
    RemoteUnavailableError,
    WorkflowCancelled,
    WorkflowValidationError,
)
from playalter.runner.engine.remote import RemoteRunner, remote_validation_error

NODES = {**TEST_NODES, **CORE_NODE_CLASSES}


@pytest.fixture
def server():
    with FakeComfyUI(NODES) as fake:
        yield fake


def png_bytes(color=(10, 200, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((64, 96, 3), color, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


IMAGE_WORKFLOW = {
    "1": {"class_type": "LoadImage", "inputs": {"image": "example.png"}, "_meta": {"title": "image"}},
    "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "remote"}},
}


def test_image_is_uploaded_run_followed_and_outputs_downloaded(server, tmp_path):
    events = []
    result = RemoteRunner(server.url).execute(
        IMAGE_WORKFLOW, bindings={"image": png_bytes()}, output_dir=tmp_path, on_progress=events.append
    )
    (image,) = result.outputs["2"]["images"]
    assert (image.filename, image.type) == ("remote_00001_.png", "output")
    assert tuple(np.asarray(Image.open(image.path))[3, 3]) == (10, 200, 30)
    assert image.path.parent == tmp_path
    assert len(server.uploads) == 1
    calls = [request for request in server.requests if request[1] != "/object_info"]
    assert calls[:3] == [("POST", "/upload/image"), ("GET", "/ws"), ("POST", "/prompt")]
    assert ("GET", f"/history/{next(iter(server.history))}") in calls and ("GET", "/view") in calls
    kinds = [(event.kind, event.node_id) for event in events]
    assert kinds == [
        ("start", None),
        ("node_start", "1"),
        ("node_finish", "1"),
        ("node_start", "2"),
        ("node_finish", "2"),
        ("finish", None),
    ]
    assert events[1].class_type == "LoadImage"


def test_without_output_dir_images_come_back_as_bytes(server):
    result = RemoteRunner(server.url).execute(IMAGE_WORKFLOW, bindings={"image": png_bytes()})
    (image,) = result.images()
    assert image.path is None and image.read_bytes()[:4] == b"\x89PNG"


def test_json_outputs_and_progress_values(server):
    events = []
    prompt = {
        "1": {"class_type": "Slow", "inputs": {"steps": 2}},
        "2": {"class_type": "Report", "inputs": {"value": ["1", 0]}},
    }
    result = RemoteRunner(server.url).execute(prompt, on_progress=events.append)
    assert [json.loads(text) for text in result.json()] == [{"value": 2}]
    assert [(event.value, event.max) for event in events if event.kind == "node_progress"] == [(1, 2), (2, 2)]


def test_validation_error_from_server_has_local_shape(server):
    prompt = {
        "1": {"class_type": "Number", "inputs": {"value": 1000}},
        "2": {"class_type": "Report", "inputs": {"value": ["1", 0]}},
    }
    with pytest.raises(WorkflowValidationError) as caught:
        RemoteRunner(server.url).execute(prompt)
    assert caught.value.node_errors["1"]["errors"][0]["type"] == "value_bigger_than_max"
    assert caught.value.node_errors["1"]["class_type"] == "Number"


@pytest.mark.parametrize(
    "body, kind, message",
    [
        (
            {
                "error": {
                    "type": "prompt_no_outputs",
                    "message": "Prompt has no outputs",
                    "details": "",
                    "extra_info": {},
                },
                "node_errors": {},
            },
            "prompt_no_outputs",
            "Prompt has no outputs",
        ),
        ({"error": "no prompt", "node_errors": []}, "invalid_prompt", "no prompt"),
        ({"message": "Prompt outputs failed validation"}, "invalid_prompt", "Prompt outputs failed validation"),
    ],
)
def test_old_and_new_rejection_shapes_are_normalised(server, body, kind, message):
    server.reject_with = body
    with pytest.raises(WorkflowValidationError) as caught:
        RemoteRunner(server.url).execute({"1": {"class_type": "Report", "inputs": {"value": 1}}})
    assert caught.value.error["type"] == kind and caught.value.error["message"] == message
    assert set(caught.value.error) == {"type", "message", "details", "extra_info"}


def test_node_errors_in_a_rejection_keep_their_shape():
    answer = {
        "error": {
            "type": "prompt_outputs_failed_validation",
            "message": "Prompt outputs failed validation",
            "details": "",
            "extra_info": {},
        },
        "node_errors": {
            "5": {
                "errors": [
                    {
                        "type": "value_not_in_list",
                        "message": "Value not in list",
                        "details": "mode: 'x' not in ['a']",
                        "extra_info": {},
                    }
                ],
                "dependent_outputs": ["9"],
                "class_type": "PlayAlterPrivacy",
            }
        },
    }
    error = remote_validation_error(answer)
    assert error.to_dict() == answer


def test_execution_error_becomes_node_execution_error(server):
    prompt = {
        "1": {"class_type": "Fail", "inputs": {"value": 0}},
        "2": {"class_type": "Report", "inputs": {"value": ["1", 0]}},
    }
    with pytest.raises(NodeExecutionError) as caught:
        RemoteRunner(server.url).execute(prompt)
    assert (caught.value.node_id, caught.value.class_type) == ("1", "Fail")
    assert "modulo by zero" in caught.value.message


def test_cancel_sends_interrupt_and_raises_cancelled(server):
    cancel = threading.Event()
    started = threading.Event()
    proceed = threading.Event()

    def on_step(step):
        if step == 1:
            started.set()
            proceed.wait(5)

    Slow.on_step = on_step
    prompt = {
        "1": {"class_type": "Slow", "inputs": {"steps": 4}},
        "2": {"class_type": "Report", "inputs": {"value": ["1", 0]}},
    }
    outcome = {}

    def remote_run():
        try:
            RemoteRunner(server.url).execute(prompt, cancel_event=cancel)
        except WorkflowCancelled as error:
            outcome["error"] = error

    worker = threading.Thread(target=remote_run)
    worker.start()
    try:
        assert started.wait(10)
        cancel.set()
        while ("POST", "/interrupt") not in server.requests:
            worker.join(0.05)
        proceed.set()
        worker.join(10)
    finally:
        Slow.on_step = None
        proceed.set()
    assert outcome["error"].node_id == "1"


def test_unreachable_server_is_remote_unavailable():
    from ports import free_port

    with pytest.raises(RemoteUnavailableError, match="cannot reach ComfyUI"):
        RemoteRunner(f"http://127.0.0.1:{free_port()}", timeout=2).execute({"1": {"class_type": "X", "inputs": {}}})


def test_definitions_from_object_info_convert_ui_workflows(server):
    from playalter.runner.engine.ui_format import api_to_ui, ui_to_api

    runner = RemoteRunner(server.url)
    prompt = {
        "1": {
            "class_type": "Choice",
            "inputs": {"mode": "exact", "seed": 5, "scale": 1.5, "label": "y"},
            "_meta": {"title": "Choice"},
        },
        "2": {"class_type": "Report", "inputs": {"value": ["1", 0]}, "_meta": {"title": "Report"}},
    }
    ui = api_to_ui(prompt, definitions=runner.definitions())
    assert ui_to_api(ui, definitions=runner.definitions()) == prompt


class ScriptedSocket:
    """A websocket stand-in that replays messages, then reports the connection closed."""

    def __init__(self, messages):
        self.messages = list(messages)

    def recv(self):
        import websocket

        if not self.messages:
            raise websocket.WebSocketConnectionClosedException("closed")
        message = self.messages.pop(0)
        return message if isinstance(message, bytes) else json.dumps(message)


def follow(messages, history=None):
    from playalter.runner.engine.remote import _Follower

    class Runner:
        url = "http://fake"
        run_timeout = 5

        def request_json(self, method, path):
            return 200, history or {}

        def interrupt(self, prompt_id):
            raise AssertionError("not cancelled")

    events = []
    class_types = {"1": "LoadImage", "2": "PlayAlterFaceDetect", "3": "SaveImage"}
    _Follower(Runner(), ScriptedSocket(messages), "p1", class_types, 3, events.append, None).follow()
    return [(event.kind, event.node_id, event.class_type, event.nodes_done) for event in events]


def test_follower_counts_cached_nodes_and_ignores_other_prompts_and_previews():
    events = follow(
        [
            {"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 1}}}},
            {"type": "executing", "data": {"node": "9", "prompt_id": "other"}},
            {"type": "execution_start", "data": {"prompt_id": "p1"}},
            {"type": "execution_cached", "data": {"nodes": ["1"], "prompt_id": "p1"}},
            {"type": "executing", "data": {"node": "2", "prompt_id": "p1"}},
            b"\x00\x00\x00\x01preview",
            {"type": "progress", "data": {"value": 1, "max": 2, "node": "2", "prompt_id": "p1"}},
            {"type": "executing", "data": {"node": "3", "prompt_id": "p1"}},
            {"type": "executed", "data": {"node": "3", "output": {"images": []}, "prompt_id": "p1"}},
            {"type": "execution_success", "data": {"prompt_id": "p1"}},
        ]
    )
    assert events == [
        ("start", None, None, 0),
        ("node_start", "2", "PlayAlterFaceDetect", 1),
        ("node_progress", "2", "PlayAlterFaceDetect", 1),
        ("node_finish", "2", "PlayAlterFaceDetect", 2),
        ("node_start", "3", "SaveImage", 2),
        ("node_finish", "3", "SaveImage", 3),
        ("finish", None, None, 3),
    ]


def test_follower_falls_back_to_history_when_the_websocket_drops():
    history = {
        "p1": {
            "status": {
                "status_str": "error",
                "completed": False,
                "messages": [
                    ["execution_start", {"prompt_id": "p1"}],
                    [
                        "execution_error",
                        {
                            "prompt_id": "p1",
                            "node_id": "2",
                            "node_type": "PlayAlterFaceDetect",
                            "exception_message": "no face\n",
                            "exception_type": "NoFaceError",
                        },
                    ],
                ],
            }
        }
    }
    with pytest.raises(NodeExecutionError) as caught:
        follow([{"type": "executing", "data": {"node": "1", "prompt_id": "p1"}}], history)
    assert (caught.value.node_id, caught.value.class_type, caught.value.message) == (
        "2",
        "PlayAlterFaceDetect",
        "no face",
    )


@pytest.mark.skipif(
    not os.environ.get("PLAYALTER_COMFYUI_URL"), reason="set PLAYALTER_COMFYUI_URL to a running ComfyUI"
)
def test_real_comfyui_round_trip(tmp_path):
    """Against a real ComfyUI (with this pack in custom_nodes): upload, run, progress, download, errors."""
    runner = RemoteRunner(os.environ["PLAYALTER_COMFYUI_URL"])
    events = []
    result = runner.execute(
        IMAGE_WORKFLOW, bindings={"image": png_bytes()}, output_dir=tmp_path, on_progress=events.append
    )
    (image,) = result.images()
    assert tuple(np.asarray(Image.open(image.path))[3, 3]) == (10, 200, 30)
    assert [event.kind for event in events if event.kind.startswith("node")] == ["node_start", "node_finish"] * 2
    with pytest.raises(WorkflowValidationError) as caught:
        runner.execute(IMAGE_WORKFLOW)  # nothing bound: example.png is not on the server
    assert caught.value.node_errors["1"]["errors"][0]["type"] == "custom_validation_failed"
    failing = {
        "1": {"class_type": "PrimitiveString", "inputs": {"value": "not json"}},
        "2": {"class_type": "PlayAlterSaveJSON", "inputs": {"json_text": ["1", 0], "filename_prefix": "x"}},
    }
    with pytest.raises(NodeExecutionError) as failed:
        runner.execute(failing)
    assert (failed.value.node_id, failed.value.class_type) == ("2", "PlayAlterSaveJSON")
    assert "not valid JSON" in failed.value.message


def test_a_download_never_replaces_an_earlier_output(server, tmp_path):
    """A restarted server numbers from 1 again: the local file of an earlier run stays, the new one goes beside it."""
    earlier = tmp_path / "remote_00001_.png"
    earlier.write_bytes(b"earlier run")
    result = RemoteRunner(server.url).execute(IMAGE_WORKFLOW, bindings={"image": png_bytes()}, output_dir=tmp_path)
    (image,) = result.outputs["2"]["images"]
    assert earlier.read_bytes() == b"earlier run"
    assert image.path == tmp_path / "remote_00001__2.png"
    assert tuple(np.asarray(Image.open(image.path))[3, 3]) == (10, 200, 30)
