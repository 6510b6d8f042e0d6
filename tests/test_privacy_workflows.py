"""The saved privacy workflows, run end to end through the executor on t1.jpg with no model installed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from playalter.pipelines.engine.detection import detect_faces
from playalter.runner.engine.executor import execute

API_DIR = Path(__file__).resolve().parents[1] / "workflows" / "api"


@pytest.fixture
def no_models(tmp_path, monkeypatch):
    from playalter.pipelines.core.config import reset_settings

    monkeypatch.setenv("PLAYALTER_MODELS_DIR", str(tmp_path / "no-models"))
    reset_settings()
    yield
    reset_settings()


def _run(name: str, t1_path, out: Path):
    result = execute(API_DIR / name, bindings={"image": t1_path}, output_dir=out)
    images = [np.asarray(Image.open(ref.path).convert("RGB")) for ref in result.images()]
    return images, [json.loads(text) for text in result.json()], result


def test_blur_workflow_hides_every_face(t1_path, t1_image, tmp_path, no_models):
    images, _, result = _run("privacy_blur.json", t1_path, tmp_path)
    assert len(images) == 1 and images[0].shape == t1_image.shape
    assert detect_faces(images[0]) == []
    assert np.any(images[0] != t1_image, axis=2).mean() < 0.3  # only the faces changed
    assert not Image.open(result.images()[0].path).getexif()


def test_levels_workflow_saves_four_increasingly_strong_levels(t1_path, t1_image, tmp_path, no_models):
    images, documents, _ = _run("privacy_pixelate_levels.json", t1_path, tmp_path)
    assert len(images) == 4
    levels = documents[0]["levels"]
    assert [level["name"] for level in levels] == ["light", "medium", "strong", "complete"]
    changes = [float(np.abs(image.astype(np.int16) - t1_image).mean()) for image in images]
    assert changes == sorted(changes)
    assert detect_faces(images[-1]) == []


def test_audit_workflow_reports_every_face_hidden(t1_path, tmp_path, no_models):
    images, documents, _ = _run("privacy_audit.json", t1_path, tmp_path)
    report = documents[0]
    assert report["all_hidden"]
    audit = report["images"][0]["audit"]
    assert audit["still_detected"] == 0 and len(audit["faces"]) >= 6  # recall first: 0.2 adds a box on the chips
    assert detect_faces(images[0]) == []


PNG_TEXT_CHUNKS = (b"tEXt", b"iTXt", b"zTXt")


def _png_chunk_types(path: Path) -> list[bytes]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    types, offset = [], 8
    while offset < len(data):
        length = int.from_bytes(data[offset:offset + 4], "big")
        types.append(data[offset + 4:offset + 8])
        offset += 12 + length
    return types


@pytest.mark.parametrize("name", ["privacy_blur.json", "privacy_audit.json", "privacy_pixelate_levels.json"])
def test_privacy_workflows_save_pixels_only(name, t1_path, tmp_path, no_models, monkeypatch):
    """Even with embed_workflow_in_images on (as ComfyUI's core SaveImage always does), no text chunk is written."""
    from playalter.pipelines.core.config import reset_settings

    monkeypatch.setenv("PLAYALTER__EMBED_WORKFLOW_IN_IMAGES", "true")
    reset_settings()
    workflow = json.loads((API_DIR / name).read_text())
    assert {node["class_type"] for node in workflow.values()} & {"SaveImage", "PreviewImage"} == set()
    _, _, result = _run(name, t1_path, tmp_path)
    assert result.images()
    for ref in result.images():
        chunks = _png_chunk_types(Path(ref.path))
        assert not set(chunks) & set(PNG_TEXT_CHUNKS), chunks


def test_blur_workflow_reports_how_many_faces_were_hidden(t1_path, tmp_path, no_models):
    _, documents, _ = _run("privacy_blur.json", t1_path, tmp_path)
    assert len(documents) == 1 and len(documents[0]["images"][0]["faces"]) == 7  # + the chips box deface keeps too


def test_levels_workflow_audits_every_level_when_asked(t1_path, tmp_path, no_models):
    result = execute(API_DIR / "privacy_pixelate_levels.json", bindings={"image": t1_path, "privacy.audit": True,
                                                                         "privacy.levels": 2}, output_dir=tmp_path)
    levels = json.loads(result.json()[0])["levels"]
    assert len(levels) == 2
    assert levels[-1]["audit"]["still_detected"] == 0 and len(levels[-1]["audit"]["faces"]) == 7
