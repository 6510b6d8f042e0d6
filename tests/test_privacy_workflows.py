"""The saved privacy workflows, run end to end through the executor on t1.jpg with no model installed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from playalter.pipelines.detection import detect_faces
from playalter.runner.executor import execute

API_DIR = Path(__file__).resolve().parents[1] / "workflows" / "api"


@pytest.fixture
def no_models(tmp_path, monkeypatch):
    from playalter.pipelines.config import reset_settings

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
    assert audit["still_detected"] == 0 and len(audit["faces"]) == 6
    assert detect_faces(images[0]) == []
