"""Dense face analysis without FLAME: the saved face_analysis_dense workflow headlessly, the Face Detect
node's dense points and mesh preview, the Face Report node, and FLAME Fit on 468-point faces."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import flame_synthetic
from conftest import requires_face_mesh
from playalter.pipelines.core import config
from playalter.pipelines import models
from playalter.pipelines.engine.detection import detect_faces
from playalter.pipelines.core.errors import NoFaceError
from playalter.pipelines.engine.face import Face
from playalter.pipelines.engine.face_report import faces_report
from playalter.runner.engine.executor import execute
from playalter.runner.engine.workflow import load_workflow

REPO = Path(__file__).resolve().parents[1]
API = REPO / "workflows" / "api" / "face_analysis_dense.json"
UI = REPO / "workflows" / "ui" / "face_analysis_dense.json"


def _run(path: Path, image, tmp_path: Path) -> tuple[dict, np.ndarray]:
    """(the report, the preview [H,W,3]) of one run of the workflow on ``image`` (a path or PNG bytes)."""
    from PIL import Image

    result = execute(load_workflow(path), bindings={"image": image}, output_dir=tmp_path / "out")
    [report] = [json.loads(text) for entry in result.outputs.values() if entry["title"] == "analysis"
                for text in entry["json"]]
    [preview] = [ref for entry in result.outputs.values() if entry["title"] == "preview" for ref in entry["images"]]
    return report, np.asarray(Image.open(preview.path).convert("RGB"))


def _png(pixels: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _check_measurements(face: dict) -> dict[str, dict]:
    """The face's valid dense-mesh measurements, after checking every entry's shape and plausibility."""
    measurements = face["measurements"]
    assert measurements["method"] == "dense_mesh" and measurements["units"] == "mm"
    assert measurements["scale"]["source"] in ("iris", "interpupillary_prior")
    for entry in measurements["values"].values():
        assert isinstance(entry["valid"], bool)
        assert entry["valid"] or entry["reason"], "an invalid measurement says why"
    valid = {name: entry for name, entry in measurements["values"].items() if entry["valid"]}
    distances = [entry["value_mm"] for entry in valid.values() if "value_mm" in entry]
    unscaled = measurements["scale"]["source"] == "interpupillary_prior"
    if unscaled and abs(face["pose"]["yaw"]) > 30:  # a turned face without a usable iris has no trustworthy scale
        assert not valid
    else:
        assert len(distances) >= 3 and all(0.0 < value < 250.0 for value in distances)
    return valid


@requires_face_mesh
@pytest.mark.parametrize("path", [API, UI], ids=["api", "ui"])
def test_dense_analysis_workflow_measures_the_six_faces_of_t1(path, t1_path, t1_image, tmp_path):
    report, preview = _run(path, t1_path, tmp_path)
    faces = report["faces"]
    assert len(faces) == 6
    measured = 0
    for face in faces:
        assert face["models"]["landmarks"] == "mediapipe_face_mesh" and face["landmark_score"] > 0.5
        measured += bool(_check_measurements(face))
        assert "landmarks" not in face and "mesh" not in face
    assert measured == 3  # the faces within 30 deg of frontal; the turned three have irises under 3.5 px
    assert preview.shape == t1_image.shape
    x1, y1, x2, y2 = (int(value) for value in faces[0]["box"])
    changed = np.any(preview[y1:y2, x1:x2] != t1_image[y1:y2, x1:x2], axis=2)  # [h,w]
    assert changed.mean() > 0.15  # hundreds of mesh points drawn over the face, not only its box outline


@requires_face_mesh
def test_dense_analysis_workflow_measures_the_astronaut_at_adult_scale(astronaut_image, tmp_path):
    report, _ = _run(API, _png(astronaut_image), tmp_path)
    [face] = report["faces"]
    assert face["measurements"]["scale"]["source"] == "iris"  # a frontal face with both eyes open
    valid = _check_measurements(face)
    assert 55.0 < valid["interpupillary_distance"]["value_mm"] < 70.0  # adults: 63 mm, SD 3.8
    assert 80.0 < valid["biocular_width"]["value_mm"] < 105.0  # outer eye corners
    assert 115.0 < valid["face_width"]["value_mm"] < 160.0


def test_dense_analysis_workflow_without_a_face_fails_with_no_face(tmp_path):
    from playalter.runner.engine.errors import NodeExecutionError

    with pytest.raises(NodeExecutionError) as caught:
        _run(API, _png(np.full((256, 256, 3), 128, dtype=np.uint8)), tmp_path)
    assert caught.value.cause_code == "no_face" and caught.value.class_type == "PlayAlterFaceReport"


@requires_face_mesh
def test_face_detect_node_dense_points_and_mesh_preview(astronaut_image):
    torch = pytest.importorskip("torch")
    from playalter.nodes.face_detect import PlayAlterFaceDetect, PlayAlterFaceReport

    image = torch.from_numpy(astronaut_image.astype(np.float32) / 255.0)[None]  # [1,H,W,3]
    faces, preview, count, _ = PlayAlterFaceDetect().detect(image, "auto", 0.5, 1280, "largest")
    plain, plain_preview, _, _ = PlayAlterFaceDetect().detect(image, "auto", 0.5, 1280, "largest",
                                                              dense_landmarks=False)
    [[face]], [[bare]] = faces, plain
    assert count == 1 and face.mesh.shape == (468, 3) and face.iris.shape == (2, 3)
    assert bare.mesh is None and bare.mesh_score is None
    x1, y1, x2, y2 = (int(value) for value in face.bbox)
    drawn = torch.abs(preview - image).sum(dim=3)[0, y1:y2, x1:x2] > 0.05  # [h,w]
    drawn_plain = torch.abs(plain_preview - image).sum(dim=3)[0, y1:y2, x1:x2] > 0.05
    assert float(drawn.float().mean()) > float(drawn_plain.float().mean()) + 0.05

    (text,) = PlayAlterFaceReport().report(faces, include_landmarks=True)
    [record] = json.loads(text)["faces"]
    assert np.allclose(record["landmarks"], face.mesh, atol=0.01)
    (text,) = PlayAlterFaceReport().report(plain, include_landmarks=True)
    [record] = json.loads(text)["faces"]
    assert "landmarks" not in record and record["models"]["landmarks"] != "mediapipe_face_mesh"


def test_report_keeps_heavy_parts_out_and_needs_a_face_when_asked():
    face = Face(bbox=[10, 20, 110, 140], score=0.9, kps=np.zeros((5, 2)) + 50, pose=(5.0, -3.0, 1.0),
                detector="centerface")
    measured = {"image": 0, "face": 0, "method": "landmark_estimate", "units": "mm", "scale_mm_per_px": 0.5,
                "measurements": {"mouth_width": {"value_mm": 50.0, "uncertainty_mm": 5.0, "method": "x"}}}
    [record] = faces_report([[face]], [measured], include_landmarks=True, mesh_format="json")["faces"]
    assert record["box"] == [10, 20, 110, 140] and record["pose"] == {"yaw": 5.0, "pitch": -3.0, "roll": 1.0}
    assert record["models"] == {"detector": "centerface", "landmarks": None} and record["landmark_score"] is None
    assert "landmarks" not in record and record["mesh"] is None  # a face without a mesh has neither
    assert record["measurements"]["values"]["mouth_width"] == {"value_mm": 50.0, "uncertainty_mm": 5.0,
                                                               "valid": True, "reason": None}
    assert record["measurements"]["scale"] == {"mm_per_px": 0.5, "source": "interpupillary_prior"}
    assert faces_report([[]])["faces"] == []
    with pytest.raises(NoFaceError):
        faces_report([[]], require_face=True)


@requires_face_mesh
def test_flame_fit_and_measurements_accept_faces_with_dense_points(astronaut_image, tmp_path, monkeypatch,
                                                                    shared_fixtures):
    torch = pytest.importorskip("torch")
    from playalter.nodes.flame import PlayAlterFaceMeasurements, PlayAlterFLAMEFit

    faces = [detect_faces(astronaut_image)]
    assert faces[0][0].mesh is not None
    flame_synthetic.write_synthetic_flame(tmp_path / "models" / "flame" / "generic_model.pkl")
    monkeypatch.setenv(models.MODELS_DIR_ENV, str(tmp_path / "models"))
    config.reset_settings()
    try:
        image = torch.from_numpy(astronaut_image.astype(np.float32) / 255.0)[None]  # [1,H,W,3]
        fits, _, _ = PlayAlterFLAMEFit().fit(image, faces, 20, 10, 50.0)
        measurements, _ = PlayAlterFaceMeasurements().measure(flame_fit=fits, faces=faces)
    finally:
        config.reset_settings()
    assert len(fits[0]) == 1 and fits[0][0].vertices.shape == (5023, 3)
    assert measurements[0]["method"] == "flame_model" and measurements[0]["measurements"]


@requires_face_mesh
def test_flame_analysis_workflow_reports_flame_measurements_and_the_dense_mesh(astronaut_image, tmp_path,
                                                                               monkeypatch, shared_fixtures):
    from playalter.pipelines.engine import face_mesh

    mediapipe = face_mesh.model_paths()[0].parent
    flame_synthetic.write_synthetic_flame(tmp_path / "models" / "flame" / "generic_model.pkl")
    (tmp_path / "models" / mediapipe.name).symlink_to(mediapipe.resolve())
    monkeypatch.setenv(models.MODELS_DIR_ENV, str(tmp_path / "models"))
    config.reset_settings()
    try:
        assert face_mesh.is_available() and models.is_available("flame")
        result = execute(load_workflow(REPO / "workflows" / "api" / "face_analysis.json"),
                         bindings={"image": _png(astronaut_image), "report.mesh_format": "json"},
                         output_dir=tmp_path / "out")
    finally:
        config.reset_settings()
    [report] = [json.loads(text) for entry in result.outputs.values() if entry["title"] == "analysis"
                for text in entry["json"]]
    [face] = report["faces"]
    assert face["measurements"]["method"] == "flame_model"
    assert all(entry["valid"] and entry["reason"] is None for entry in face["measurements"]["values"].values())
    assert len(face["mesh"]["vertices"]) == 468 and face["models"]["landmarks"] == "mediapipe_face_mesh"
