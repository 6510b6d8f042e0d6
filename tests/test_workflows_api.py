"""Every saved API-format workflow in workflows/api/ runs through the executor on a real photo (t1.jpg).

LoadImage nodes are bound by their role title (image / source / target); a
saved face identity a workflow loads is provided as a stand-in (a random unit
ArcFace-sized embedding). A workflow whose models are absent must fail with
the clear model-missing error naming the node; otherwise every output node
must have produced readable images or valid JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from playalter.runner.engine.errors import NodeExecutionError
from playalter.runner.engine.executor import execute
from playalter.runner.engine.workflow import load_workflow

API_DIR = Path(__file__).resolve().parents[1] / "workflows" / "api"
ROLES = ("image", "source", "target", "reference")


def _workflows() -> list[Path]:
    """The photo workflows (video ones run in test_video_workflow.py)."""
    return sorted(path for path in API_DIR.glob("*.json") if '"LoadVideo"' not in path.read_text())


@pytest.fixture
def isolated_settings(tmp_path, monkeypatch):
    """No model files (only embedded ones) and a data folder of this test's own."""
    from playalter.pipelines.core.config import reset_settings

    monkeypatch.setenv("PLAYALTER_MODELS_DIR", str(tmp_path / "no-models"))
    monkeypatch.setenv("PLAYALTER__PATHS__DATA_DIR", str(tmp_path / "data"))
    reset_settings()
    yield
    reset_settings()


def provide_saved_identities(prompt: dict) -> None:
    """Save a stand-in identity under each name a PlayAlterLoadFaceIdentity node loads."""
    from playalter.pipelines.swap import identity

    for node in prompt.values():
        if node["class_type"] == "PlayAlterLoadFaceIdentity":
            embedding = np.random.default_rng(0).normal(size=512).astype(np.float32)  # (512,)
            stand_in = identity.FaceIdentity(embedding / np.linalg.norm(embedding), name="stand-in")
            identity.save(stand_in, identity.path_for(node["inputs"]["name"]))


@pytest.mark.parametrize("path", _workflows(), ids=lambda path: path.stem)
def test_saved_workflow_runs_on_a_real_photo(path, t1_path, tmp_path, isolated_settings):
    prompt = load_workflow(path)
    provide_saved_identities(prompt)
    loaders = {node_id: node for node_id, node in prompt.items() if node["class_type"] == "LoadImage"}
    titles = {(node.get("_meta") or {}).get("title") for node in loaders.values()}
    assert titles <= set(ROLES), f"LoadImage nodes must be titled by role {ROLES}; got {titles}"
    try:
        result = execute(prompt, bindings={title: t1_path for title in titles}, output_dir=tmp_path / "out")
    except NodeExecutionError as error:
        assert error.cause_code == "model_missing", f"{path.name}: {error}"
        assert "needs the model" in error.message and "How to obtain it" in error.message
        assert error.node_id in prompt and error.class_type == prompt[error.node_id]["class_type"]
        return
    assert result.outputs, f"{path.name} produced no output"
    for node_id, entry in result.outputs.items():
        assert entry["images"] or entry["json"] or entry["text"], f"output node {node_id} produced nothing"
        for image in entry["images"]:
            pixels = np.asarray(Image.open(image.path))
            assert pixels.ndim == 3 and min(pixels.shape[:2]) > 0
        for text in entry["json"]:
            assert json.loads(text) is not None


def test_a_missing_model_is_a_clear_error_naming_the_node(t1_path, tmp_path, isolated_settings):
    """face_swap.json bound to method=inswapper without inswapper_128.onnx: the model-missing message, not a trace."""
    path = API_DIR / "face_swap.json"
    if not path.is_file():
        pytest.skip("workflows/api/face_swap.json is absent")
    bindings = {"source": t1_path, "target": t1_path, "swap.method": "inswapper"}
    with pytest.raises(NodeExecutionError) as caught:
        execute(load_workflow(path), bindings=bindings, output_dir=tmp_path / "out")
    error = caught.value
    assert (error.cause_code, error.class_type) == ("model_missing", "PlayAlterFaceSwap")
    assert "inswapper_128" in error.message and "How to obtain it" in error.message
    assert str(tmp_path / "no-models") in error.message
