"""``playalter run / validate / convert``: outputs, JSON mode and exit codes."""

from __future__ import annotations

import json
import threading
import _thread

import numpy as np
import pytest
from PIL import Image

from playalter.runner.engine import executor
from playalter.runner.cli.main import main
from playalter.runner.engine.errors import WorkflowCancelled

WORKFLOW = {
    "1": {"class_type": "LoadImage", "inputs": {"image": "example.png"}, "_meta": {"title": "image"}},
    "2": {
        "class_type": "SaveImage",
        "inputs": {"images": ["1", 0], "filename_prefix": "cli"},
        "_meta": {"title": "result"},
    },
}


@pytest.fixture
def workflow_file(tmp_path):
    path = tmp_path / "workflow.json"
    path.write_text(json.dumps(WORKFLOW))
    return path


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(path)
    return path


def run_cli(argv, capsys) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_run_binds_image_and_prints_saved_paths(workflow_file, photo, tmp_path, capsys):
    code, out, err = run_cli(
        ["run", str(workflow_file), "--input", f"image={photo}", "--out", str(tmp_path / "out")], capsys
    )
    assert code == 0
    saved = tmp_path / "out" / "cli_00001_.png"
    assert out.strip() == str(saved.resolve()) and saved.is_file()
    assert "[1/2] LoadImage" in err and "[2/2] SaveImage" in err  # progress on stderr


def test_run_json_mode_prints_the_run_result(workflow_file, photo, tmp_path, capsys):
    code, out, _ = run_cli(
        ["run", str(workflow_file), "-i", f"image={photo}", "-o", str(tmp_path), "--json", "-q"], capsys
    )
    assert code == 0
    result = json.loads(out)
    assert result["outputs"]["2"]["images"][0]["filename"] == "cli_00001_.png"
    assert result["outputs"]["2"]["title"] == "result"


@pytest.mark.parametrize(
    "extra, fragment",
    [
        ([], "Invalid image file: example.png"),  # nothing bound: LoadImage's file is missing
        (["--input", "nobody=1"], "names no node"),
        (["--input", "image"], "NAME=VALUE"),
        (["--input", "result.filename_prefix=../x"], "Invalid file name"),  # refused before anything runs
    ],
)
def test_usage_and_validation_errors_exit_2(workflow_file, tmp_path, capsys, extra, fragment):
    code, _, err = run_cli(["run", str(workflow_file), "-o", str(tmp_path), "-q", *extra], capsys)
    assert code == 2 and fragment in err


def test_validation_error_json_has_comfyui_shape(workflow_file, tmp_path, capsys):
    code, out, _ = run_cli(["run", str(workflow_file), "-o", str(tmp_path), "--json", "-q"], capsys)
    assert code == 2
    error = json.loads(out)["error"]
    assert error["node_errors"]["1"]["errors"][0]["type"] == "custom_validation_failed"


def test_unknown_node_exits_2_and_suggests_remote(tmp_path, capsys):
    path = tmp_path / "w.json"
    path.write_text(json.dumps({"1": {"class_type": "KSampler", "inputs": {}}}))
    code, out, err = run_cli(["run", str(path), "--json", "-q"], capsys)
    assert code == 2 and "--remote" in out


def test_node_failure_exits_3(workflow_file, tmp_path, capsys):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"%PDF-1.4 not an image")
    code, out, err = run_cli(
        ["run", str(workflow_file), "-i", f"image={broken}", "-o", str(tmp_path), "-q", "--json"], capsys
    )
    assert code == 3
    error = json.loads(out)["error"]
    assert (error["node_id"], error["class_type"], error["code"]) == ("1", "LoadImage", "invalid_image")
    assert "PDF" in error["message"] and "Traceback" not in err


def test_unreachable_remote_exits_4(workflow_file, capsys):
    code, _, err = run_cli(["run", str(workflow_file), "--remote", "http://127.0.0.1:9", "-q"], capsys)
    assert code == 4 and "cannot reach ComfyUI" in err


def test_ctrl_c_cancels_the_run_and_exits_130(workflow_file, photo, tmp_path, capsys, monkeypatch):
    seen = {}

    def slow_execute(prompt, *, cancel_event, **kwargs):
        threading.Timer(0.1, _thread.interrupt_main).start()
        seen["cancelled"] = cancel_event.wait(10)
        raise WorkflowCancelled("1")

    monkeypatch.setattr(executor, "execute", slow_execute)
    code, _, err = run_cli(["run", str(workflow_file), "-i", f"image={photo}", "-q"], capsys)
    assert code == 130 and seen["cancelled"] and "cancelled" in err


def test_validate_command(workflow_file, photo, capsys):
    code, _, err = run_cli(["validate", str(workflow_file), "-i", f"image={photo}"], capsys)
    assert code == 0 and "valid" in err
    code, _, err = run_cli(["validate", str(workflow_file), "--json"], capsys)  # the image is a placeholder
    assert code == 0 and "a run needs --input image=PHOTO" in err


def test_convert_to_ui_and_back(workflow_file, tmp_path, capsys):
    code, out, _ = run_cli(["convert", str(workflow_file), "--to", "ui"], capsys)
    assert code == 0
    ui = json.loads(out)
    assert {node["type"] for node in ui["nodes"]} == {"LoadImage", "SaveImage"}
    ui_path = tmp_path / "ui.json"
    ui_path.write_text(out)
    code, out, _ = run_cli(["convert", str(ui_path)], capsys)
    assert code == 0
    converted = json.loads(out)
    assert converted["2"]["inputs"] == WORKFLOW["2"]["inputs"]
    assert converted["1"]["_meta"]["title"] == "image"
    assert converted["2"]["_meta"]["title"] == "result"


def test_progress_bar_on_a_terminal_fills_with_node_steps():
    import io

    from playalter.runner.engine.executor import ProgressEvent
    from playalter.runner.cli.progress_bar import ProgressBar

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    bar = ProgressBar(stream)
    for event in (
        ProgressEvent("start", nodes_total=2),
        ProgressEvent("node_start", "1", "LoadImage", nodes_done=0, nodes_total=2),
        ProgressEvent("node_progress", "1", "LoadImage", 1, 2, nodes_done=0, nodes_total=2),
        ProgressEvent("node_finish", "1", "LoadImage", nodes_done=1, nodes_total=2),
        ProgressEvent("finish", nodes_done=2, nodes_total=2),
    ):
        bar(event)
    bar.close()
    frames = stream.getvalue().split("\r")[1:]
    assert [frame.split("]")[1].split("%")[0].strip() for frame in frames] == ["0", "25", "100"]
    assert "LoadImage (node 1)" in frames[0] and frames[-1].rstrip().endswith("done")
