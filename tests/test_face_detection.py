"""Face detection on real photos with the embedded CenterFace backend (no downloaded model)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from playalter.pipelines.core import config
from playalter.pipelines.runtime import onnx_runtime
from playalter.pipelines.engine.detection import centerface, detect_faces, detect_faces_batch, order_faces, resolve_backend
from playalter.pipelines.core.errors import InvalidParameterError

from conftest import read_rgb, shared_face_photos
from onnx_models import use_models_dir

# t1.jpg (1280 x 886), default settings, largest first: x1, y1, x2, y2 in pixels.
T1_REFERENCE_BOXES = np.array([
    [902.5, 59.4, 1013.6, 205.5],
    [464.0, 268.4, 571.9, 415.5],
    [744.9, 344.8, 843.9, 481.5],
    [62.1, 266.1, 165.3, 394.4],
    [1132.6, 267.7, 1230.2, 400.8],
    [271.6, 150.9, 371.5, 264.4],
])
BOX_TOLERANCE_PX = 3.0
MULTI_FACE_PHOTOS = {"AFLW2000_image00181.jpg": 3}  # a profile face plus two small background faces


@pytest.fixture(autouse=True)
def no_buffalo(monkeypatch, tmp_path):
    """An empty models folder, so "auto" means the embedded CenterFace."""
    use_models_dir(monkeypatch, tmp_path)
    yield
    config.reset_settings()


def test_auto_backend_is_centerface_without_buffalo_l():
    assert resolve_backend("auto") == "centerface"


def test_t1_has_exactly_the_six_reference_faces(t1_image):
    faces = detect_faces(t1_image)
    assert len(faces) == 6
    boxes = np.array([face.bbox for face in faces])
    np.testing.assert_allclose(boxes, T1_REFERENCE_BOXES, atol=BOX_TOLERANCE_PX)
    for face in faces:
        assert face.detector == "centerface" and face.score >= 0.5
        x1, y1, x2, y2 = face.bbox
        assert np.all((face.kps[:, 0] > x1) & (face.kps[:, 0] < x2) & (face.kps[:, 1] > y1) & (face.kps[:, 1] < y2))
        assert face.kps[0, 0] < face.kps[1, 0] and face.kps[3, 0] < face.kps[4, 0]  # image-left point first
        assert face.kps[2, 1] < (face.kps[3, 1] + face.kps[4, 1]) / 2  # nose above the mouth
        assert face.pose is not None and all(abs(angle) < 90 for angle in face.pose)


def test_t1_orders_are_deterministic(t1_image):
    faces = detect_faces(t1_image)
    left_to_right = order_faces(faces, "left_to_right")
    assert [face.bbox[0] for face in left_to_right] == sorted(face.bbox[0] for face in faces)
    top_to_bottom = order_faces(faces, "top_to_bottom")
    assert [face.bbox[1] for face in top_to_bottom] == sorted(face.bbox[1] for face in faces)
    right_to_left = detect_faces(t1_image, order="right_to_left")
    assert [face.bbox[2] for face in right_to_left] == sorted((face.bbox[2] for face in faces), reverse=True)
    areas = [face.width * face.height for face in faces]
    assert areas == sorted(areas, reverse=True)


def test_threshold_changes_what_is_kept(t1_image):
    assert len(detect_faces(t1_image, threshold=0.95)) < 6


def test_astronaut_has_one_face(astronaut_image):
    faces = detect_faces(astronaut_image)
    assert len(faces) == 1
    x1, y1, x2, y2 = faces[0].bbox
    assert 150 < x1 < 220 and 30 < y1 < 90 and 240 < x2 < 300 and 150 < y2 < 210  # her face, upper middle


@pytest.mark.fixtures
@pytest.mark.parametrize("path", shared_face_photos(), ids=lambda path: path.name)
def test_shared_photos_face_counts(path):
    faces = detect_faces(read_rgb(path))
    assert len(faces) == MULTI_FACE_PHOTOS.get(path.name, 1)


@pytest.mark.fixtures
def test_profile_photo_main_face_is_first(shared_fixtures):
    image = read_rgb(shared_fixtures / "faces" / "AFLW2000_image00181.jpg")
    main, *background = detect_faces(image)
    assert all(main.size > 3 * face.size for face in background)
    assert abs(main.pose[0]) > 30  # a profile face is strongly turned


def test_blank_and_noise_have_no_face():
    rng = np.random.default_rng(0)
    assert detect_faces(np.full((480, 640, 3), 128, np.uint8)) == []
    assert detect_faces(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)) == []


def test_big_image_finds_small_faces_by_refining(t1_image):
    """t1 shrunk to 30 % in a 3840 x 3840 canvas: its faces are ~10 px at the bounded 1280 input,
    too small for one pass; refinement around the candidates finds all six at full resolution."""
    scale, left, top = 0.3, 2000, 1500
    small = cv2.resize(t1_image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.full((3840, 3840, 3), 90, np.uint8)
    canvas[top:top + small.shape[0], left:left + small.shape[1]] = small
    faces = detect_faces(canvas)
    assert len(faces) == 6
    expected = T1_REFERENCE_BOXES * scale + [left, top, left, top]
    found = np.array(sorted((face.bbox for face in faces), key=lambda box: box[0]))
    np.testing.assert_allclose(found, expected[np.argsort(expected[:, 0])], atol=4.0)


def test_batch_keeps_one_list_per_image(t1_image, astronaut_image):
    seen = []
    result = detect_faces_batch([t1_image, astronaut_image], on_image=seen.append, backend="centerface")
    assert [len(faces) for faces in result] == [6, 1]
    assert seen == [0, 1]


@pytest.mark.parametrize("options, message", [
    ({"backend": "dlib"}, "unknown detector backend"),
    ({"threshold": 1.5}, "threshold"),
    ({"max_side": 16}, "max_side"),
    ({"order": "random"}, "unknown face order"),
])
def test_bad_options_are_clear_errors(options, message):
    with pytest.raises(InvalidParameterError, match=message):
        detect_faces(np.zeros((64, 64, 3), np.uint8), **options)


def test_non_rgb_input_is_a_clear_error():
    with pytest.raises(InvalidParameterError, match="uint8 RGB"):
        detect_faces(np.zeros((64, 64), np.float32))


def test_cpu_device_runs_on_the_cpu_provider(astronaut_image):
    onnx_runtime.clear_cache()
    assert len(detect_faces(astronaut_image, device="cpu")) == 1
    session, _ = centerface._session("cpu")
    assert session.get_providers() == ["CPUExecutionProvider"]
