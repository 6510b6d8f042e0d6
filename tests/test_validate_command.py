"""``playalter validate``: shipped workflows validate without --input; every error is reported at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from playalter.runner.engine.executor import validate
from playalter.runner.engine.errors import WorkflowValidationError

from test_cli_run import run_cli

WORKFLOWS = Path(__file__).resolve().parents[1] / "workflows"


@pytest.mark.parametrize("path", sorted((WORKFLOWS / "ui").glob("*.json")), ids=lambda path: path.stem)
def test_shipped_ui_workflows_validate_without_input_and_name_the_binding_a_run_needs(path, tmp_path, capsys):
    code, out, err = run_cli(["validate", str(path), "--input-dir", str(tmp_path)], capsys)
    assert code == 0, err
    assert "valid:" in err and "a run needs --input " in err and ("=PHOTO" in err or "=VIDEO" in err)


def test_a_bound_or_present_image_needs_no_note(tmp_path, t1_path, capsys):
    code, _, err = run_cli(["validate", str(WORKFLOWS / "api" / "privacy_blur.json"), "-i", f"image={t1_path}"],
                           capsys)
    assert code == 0 and "note:" not in err


def test_a_bad_widget_value_is_still_invalid_without_input(tmp_path, capsys):
    workflow = json.loads((WORKFLOWS / "api" / "privacy_blur.json").read_text())
    workflow["3"]["inputs"]["mask_type"] = "smudge"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(workflow))
    code, _, err = run_cli(["validate", str(path), "--input-dir", str(tmp_path)], capsys)
    assert code == 2 and "smudge" in err


def test_unknown_nodes_and_other_errors_are_reported_together():
    workflow = json.loads((WORKFLOWS / "api" / "privacy_blur.json").read_text())
    workflow["3"]["inputs"]["mask_type"] = "smudge"
    workflow["8"] = {"class_type": "KSampler", "inputs": {}}
    workflow["9"] = {"class_type": "UpscaleModelLoader", "inputs": {}}
    workflow["10"] = {"class_type": "SaveImage", "inputs": {"images": ["9", 0], "filename_prefix": "x"}}
    with pytest.raises(WorkflowValidationError) as caught:
        validate(workflow, bindings={"image": b"not read"})
    error = caught.value
    assert "KSampler" in error.error["message"] and "UpscaleModelLoader" in error.error["message"]
    assert "--remote" in error.error["extra_info"]["hint"]
    assert {"3", "8", "9"} <= set(error.node_errors)
    assert error.node_errors["3"]["errors"][0]["type"] == "value_not_in_list"
    assert error.node_errors["9"]["dependent_outputs"] == ["10"]
