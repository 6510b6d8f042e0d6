"""Metric dense face: landmark accuracy, measurement invariance and plausibility, pose validity, mesh export."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from playalter.pipelines.engine import face_mesh_scheme
from playalter.pipelines.engine.detection.api import detect_faces
from playalter.pipelines.core.errors import InvalidParameterError
from playalter.pipelines.engine.face import Face
from playalter.pipelines.engine.face_measurements import DISTANCES, measure_face
from playalter.pipelines.engine.face_mesh_export import draw_face_mesh, export_face_mesh
from playalter.pipelines.flame.measurements import measure_landmarks
from playalter.pipelines.engine.mesh_io import read_obj
from playalter.pipelines.engine.metric_face import face_mesh_mm

from conftest import read_rgb, requires_face_mesh, shared_face_photos

INVARIANCE_PHOTOS = ("exp_2.jpg", "exp_5.jpg", "AFLW2000_image02202.jpg", "exp_4.jpg", "ibug300w_image_0010.png")
FRONTAL_PHOTOS = ("exp_2.jpg", "exp_8.jpg", "AFLW2000_image02202.jpg")
SWAPPED = {"palpebral_fissure_right": "palpebral_fissure_left", "palpebral_fissure_left": "palpebral_fissure_right"}
SYMMETRY_TOLERANCE_MM = 0.5  # the asymmetry score is a near-zero residual: compared in mm, not in %


def _largest_face(image: np.ndarray) -> Face:
    faces = detect_faces(image)
    assert faces, "no face detected"
    return faces[0]


def _value(entry: dict) -> float:
    return entry["value_mm"] if "value_mm" in entry else entry["value"]


def _rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    """Rotated about the centre on a canvas big enough to keep every pixel."""
    height, width = image.shape[:2]
    side = int(np.hypot(height, width)) + 2
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    matrix[:, 2] += [(side - width) / 2, (side - height) / 2]
    return cv2.warpAffine(image, matrix, (side, side), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def _jpeg(image: np.ndarray, quality: int = 60) -> np.ndarray:
    ok, encoded = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return np.ascontiguousarray(cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1])


TRANSFORMS = {
    "half": lambda image: cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA),
    "double": lambda image: cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC),
    "mirror": lambda image: np.ascontiguousarray(image[:, ::-1]),
    "rotate+20": lambda image: _rotate(image, 20),
    "rotate-20": lambda image: _rotate(image, -20),
    "jpeg60": _jpeg,
}


@requires_face_mesh
def test_dense_landmarks_match_the_ibug_ground_truth(shared_fixtures):
    image = read_rgb(shared_fixtures / "faces" / "ibug300w_image_0010.png")
    lines = (shared_fixtures / "faces" / "ibug300w_image_0010.pts").read_text().splitlines()[3:71]
    truth = np.array([[float(value) for value in line.split()] for line in lines]) - 1  # [68,2] 0-based px
    face = _largest_face(image)
    norm = float(np.linalg.norm(truth[36] - truth[45]))
    dense = face_mesh_scheme.to_ibug68(face.mesh[:, :2])  # [68,2]
    nme_dense = float(np.linalg.norm(dense[17:] - truth[17:], axis=1).mean()) / norm
    # baseline: a mean frontal iBUG-68 shape placed by the five detector keypoints (similarity transform)
    frontal = _largest_face(read_rgb(shared_fixtures / "faces" / "AFLW2000_image02202.jpg"))
    template = face_mesh_scheme.to_ibug68(frontal.mesh[:, :2]).astype(np.float64)  # [68,2]
    template_kps = np.array([template[36:42].mean(0), template[42:48].mean(0), template[30], template[48],
                             template[54]])
    matrix, _ = cv2.estimateAffinePartial2D(template_kps, face.kps.astype(np.float64))
    placed = template @ matrix[:, :2].T + matrix[:, 2]
    nme_five = float(np.linalg.norm(placed[17:] - truth[17:], axis=1).mean()) / norm
    print(f"NME of the 51 inner points / outer-canthal distance: dense {nme_dense:.4f}, "
          f"5-keypoint baseline {nme_five:.4f}")
    assert nme_dense <= 0.05
    assert nme_dense < nme_five


@requires_face_mesh
@pytest.mark.parametrize("name", INVARIANCE_PHOTOS)
def test_measurements_survive_scaling_mirroring_rotation_and_jpeg(shared_fixtures, name):
    image = read_rgb(shared_fixtures / "faces" / name)
    original = measure_face(_largest_face(image))["measurements"]
    compared = 0
    failures = []
    for transform, apply in TRANSFORMS.items():
        changed = measure_face(_largest_face(apply(image)))["measurements"]
        for key, entry in original.items():
            other = changed[SWAPPED.get(key, key) if transform == "mirror" else key]
            if not (entry["valid"] and other["valid"]):
                continue
            compared += 1
            before, after = _value(entry), _value(other)
            tolerance = SYMMETRY_TOLERANCE_MM if key == "symmetry" else 0.03 * abs(before)
            if abs(after - before) > tolerance:
                failures.append(f"{transform} {key}: {before:.2f} -> {after:.2f}")
    assert compared >= 20, f"only {compared} comparisons were valid on both sides"
    assert not failures, failures


@requires_face_mesh
@pytest.mark.parametrize("path", shared_face_photos(), ids=lambda path: path.name)
def test_no_valid_value_outside_its_adult_range(path):
    for face in detect_faces(read_rgb(path)):
        if face.mesh is None:
            continue
        for name, entry in measure_face(face)["measurements"].items():
            low, high = entry.get("adult_range_mm") or entry["adult_range"]
            if entry["valid"]:
                assert low <= _value(entry) <= high, (path.name, name, entry)
            else:
                assert entry["reason"], (path.name, name)


@requires_face_mesh
@pytest.mark.parametrize("name", FRONTAL_PHOTOS)
def test_frontal_faces_give_most_measurements(shared_fixtures, name):
    result = measure_face(_largest_face(read_rgb(shared_fixtures / "faces" / name)))
    assert result["scale"]["source"] == "iris" and 0.02 < result["scale"]["relative_sd"] < 0.1
    core = [item.name for item in DISTANCES] + ["interpupillary_distance", "facial_index", "nasal_index"]
    valid = [key for key in core if result["measurements"][key]["valid"]]
    assert len(valid) >= 12, {key: result["measurements"][key]["reason"] for key in core if key not in valid}
    ipd = result["measurements"]["interpupillary_distance"]
    assert 55 <= ipd["value_mm"] <= 70 and ipd["uncertainty_mm"] > 0


@requires_face_mesh
def test_a_face_turned_far_away_gets_no_widths(t1_image):
    faces = detect_faces(t1_image)
    turned = min(faces, key=lambda face: face.pose[0])
    assert turned.pose[0] < -60
    measurements = measure_face(turned)["measurements"]
    for key in ("face_width", "bigonial_width", "biocular_width", "intercanthal_width", "mouth_width", "nose_width",
                "interpupillary_distance", "symmetry"):
        assert not measurements[key]["valid"] and "turned" in measurements[key]["reason"], key
        assert measurements[key]["value_mm"] is not None  # reported with its flag, not dropped


@requires_face_mesh
def test_a_turned_face_without_a_usable_iris_has_no_valid_value(t1_image):
    turned = min(detect_faces(t1_image), key=lambda face: face.pose[0])
    result = measure_face(turned)
    assert result["scale"]["source"] == "interpupillary_prior"  # its irises are 1-2 px
    invalid = [item for item in result["measurements"].values() if not item["valid"]]
    assert len(invalid) == len(result["measurements"])
    assert all("interpupillary prior cannot scale a turned face" in item["reason"] for item in invalid)


@requires_face_mesh
def test_mesh_export_round_trips_with_the_committed_triangles(tmp_path, astronaut_image):
    face = _largest_face(astronaut_image)
    vertices, triangles = face_mesh_mm(face)
    assert vertices.shape == (468, 3) and np.array_equal(triangles, face_mesh_scheme.triangles())
    outer_canthal = np.linalg.norm(vertices[263] - vertices[33])
    assert 75 < outer_canthal < 110  # millimetres
    assert vertices[263, 0] > vertices[33, 0]  # x: subject's right to left
    assert vertices[10, 1] > vertices[152, 1]  # y: up
    assert vertices[1, 2] > vertices[234, 2]  # z: out of the face
    read_vertices, read_triangles = read_obj(export_face_mesh(face, tmp_path / "face.obj"))
    assert read_vertices.shape == (468, 3) and np.array_equal(read_triangles, triangles)
    assert np.allclose(read_vertices, vertices, atol=1e-5)
    ply = export_face_mesh(face, tmp_path / "face.ply").read_bytes()
    assert b"element vertex 468" in ply and f"element face {len(triangles)}".encode() in ply
    preview = draw_face_mesh(astronaut_image, [face])
    x1, y1, x2, y2 = face.bbox.astype(int)
    assert np.abs(preview[y1:y2, x1:x2].astype(int) - astronaut_image[y1:y2, x1:x2]).mean() > 2


def test_the_triangulation_covers_the_face_but_not_its_openings():
    triangles = face_mesh_scheme.triangles()
    assert 700 <= len(triangles) <= 950
    assert len(np.unique(triangles)) == 468  # every vertex is in the surface
    inner_lips = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95]
    assert not np.isin(triangles, inner_lips).all(axis=1).any()  # no triangle across the mouth opening
    assert not (np.isin(triangles, [13, 14]).sum(axis=1) == 2).any()  # upper and lower inner lip never joined
    mirror = face_mesh_scheme.mirror_pairs()
    assert np.array_equal(mirror[mirror], np.arange(468))
    assert mirror[33] == 263 and mirror[133] == 362 and mirror[61] == 291 and mirror[1] == 1


def test_a_face_without_a_mesh_is_refused_with_a_clear_message():
    kps = np.array([[30.0, 40.0], [70.0, 40.0], [50.0, 60.0], [35.0, 80.0], [65.0, 80.0]])
    face = Face(bbox=np.array([0.0, 0.0, 100.0, 100.0]), score=0.9, kps=kps)
    with pytest.raises(InvalidParameterError, match="no dense mesh"):
        measure_face(face)
    assert measure_landmarks(face)["method"] == "landmark_estimate"


@requires_face_mesh
def test_the_landmark_fallback_measures_dense_faces_in_3d(astronaut_image):
    result = measure_landmarks(_largest_face(astronaut_image))
    assert result["method"] == "dense_mesh" and result["scale"]["source"] in ("iris", "interpupillary_prior")
    assert len(result["measurements"]) >= 15


@requires_face_mesh
def test_a_tiny_face_is_measured_but_marked_invalid(shared_fixtures):
    image = read_rgb(shared_fixtures / "faces" / "exp_2.jpg")
    face = _largest_face(cv2.resize(image, None, fx=0.12, fy=0.12, interpolation=cv2.INTER_AREA))
    if face.mesh is None:
        pytest.skip("the detector gave the tiny face no dense mesh")
    for entry in measure_face(face)["measurements"].values():
        assert not entry["valid"] and ("too small" in entry["reason"] or "doubts" in entry["reason"])


def test_every_measurement_is_documented():
    from pathlib import Path

    from playalter.pipelines.engine.face_measurements import INDICES

    text = (Path(__file__).resolve().parents[1] / "docs" / "measurements.md").read_text(encoding="utf-8")
    names = [item.name for item in DISTANCES] + [item[0] for item in INDICES] + ["interpupillary_distance", "symmetry"]
    for name in names:
        assert f"| `{name}` |" in text, name
    assert "11.71" in text and "Rüfer" in text
