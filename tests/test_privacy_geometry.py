"""Mask geometry: landmark hulls, FLAME meshes and keypoint ellipses, their union, coverage and feathering."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from playalter.pipelines.engine.detection import detect_faces
from playalter.pipelines.core.errors import InvalidParameterError
from playalter.pipelines.engine.face import Face
from playalter.pipelines.privacy.geometry import Shape, face_frame, face_mask, union

from conftest import read_rgb


def _full(shape, face, mask_shape, fit=None) -> np.ndarray:
    return union(shape, [face_mask(shape, face, mask_shape, fit)])


def _upright_face(scale: float = 1.0, offset=(200.0, 200.0)) -> Face:
    """A frontal face with 60 px between the eyes (times ``scale``)."""
    kps = np.array([[-30, 0], [30, 0], [0, 35], [-25, 66], [25, 66]], np.float32) * scale + offset
    bbox = np.array([-60, -80, 60, 110], np.float32) * scale + [*offset, *offset]
    return Face(bbox=bbox, score=0.9, kps=kps)


@pytest.fixture(scope="module")
def ibug(shared_fixtures):
    """The iBUG 300-W photo with its 68 ground-truth landmarks, as a Face."""
    image = read_rgb(shared_fixtures / "faces" / "ibug300w_image_0010.png")
    lines = (shared_fixtures / "faces" / "ibug300w_image_0010.pts").read_text().splitlines()
    landmarks = np.array([[float(value) for value in line.split()] for line in lines[3:71]], np.float32)  # [68,2]
    detected = detect_faces(image)
    assert len(detected) == 1
    face = detected[0]
    face.landmarks, face.landmark_scheme = landmarks, "68"
    face.mesh = face.mesh_score = face.iris = None  # the ground-truth 68 points shape this face's mask
    return image, face


@pytest.mark.fixtures
def test_landmark_mask_covers_every_landmark_and_the_forehead(ibug):
    image, face = ibug
    mask = face_mask(image.shape, face, Shape(coverage="face"))
    assert mask.sources == ("landmarks_68",)
    full = union(image.shape, [mask])
    for x, y in face.landmarks:
        assert full[int(round(y)), int(round(x))] == 1.0
    frame = face_frame(face)
    brows = face.landmarks[17:27].mean(axis=0)
    forehead = brows - 0.8 * frame.unit * frame.down  # 0.8 eye distances above the brows: below the hairline
    assert full[int(forehead[1]), int(forehead[0])] == 1.0
    above_head = brows - 3.0 * frame.unit * frame.down
    assert full[int(above_head[1]), int(above_head[0])] == 0.0


@pytest.mark.fixtures
def test_sources_combine_as_a_union(ibug):
    image, face = ibug
    frame = face_frame(face)
    chin = face.landmarks[8]
    below = chin + 1.5 * frame.unit * frame.down  # well under the chin: no landmark reaches it
    square = np.array([below + [-20, -20], below + [20, -20], below + [20, 20], below + [-20, 20]])  # [4,2]
    fit = SimpleNamespace(vertices_2d=square, triangles=np.array([[0, 1, 2], [0, 2, 3]]))
    landmarks_only = _full(image.shape, face, Shape(coverage="face"))
    combined_mask = face_mask(image.shape, face, Shape(coverage="face"), fit)
    combined = union(image.shape, [combined_mask])
    assert combined_mask.sources == ("landmarks_68", "flame")
    assert landmarks_only[int(below[1]), int(below[0])] == 0.0
    assert combined[int(below[1]), int(below[0])] == 1.0
    assert (combined >= landmarks_only).all()


def test_keypoint_ellipse_follows_the_eye_line():
    upright = _upright_face()
    angle = np.deg2rad(90.0)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = np.array([200.0, 200.0])
    kps = (upright.kps - centre) @ rotation.T + centre  # the head lies on its side
    lying = Face(bbox=[140, 140, 260, 260], score=0.9, kps=kps)
    shape = Shape(coverage="face", feather=0.0)
    for face, long_axis in ((upright, 1), (lying, 0)):
        rows, cols = np.nonzero(_full((500, 500), face, shape))
        spread = (np.ptp(cols), np.ptp(rows))  # (x extent, y extent)
        assert spread[long_axis] > 1.2 * spread[1 - long_axis]
        assert face_mask((500, 500), face, shape).sources == ("keypoints",)


def test_keypoint_ellipse_scales_with_the_eye_distance():
    small = _full((800, 800), _upright_face(1.0), Shape(coverage="face", feather=0.0))
    large = _full((800, 800), _upright_face(2.0), Shape(coverage="face", feather=0.0))
    assert large.sum() / small.sum() == pytest.approx(4.0, rel=0.05)


@pytest.mark.parametrize("scale", [1.0, 2.5])
def test_feather_width_is_relative_to_the_face(scale):
    face = _upright_face(scale, offset=(400.0, 400.0))
    shape = Shape(coverage="face", feather=0.2)
    soft = _full((900, 900), face, shape)
    hard = _full((900, 900), face, Shape(coverage="face", feather=0.0))
    assert (soft[hard == 1.0] == 1.0).all()
    row = soft[int(face.kps[0, 1])]  # a line through the eyes
    ramp = int(((row > 0) & (row < 1)).sum()) / 2  # two edges
    assert ramp == pytest.approx(0.2 * face.size, abs=2.0)


def test_coverage_grows_from_face_to_margin_to_head():
    face = _upright_face()
    areas = [_full((600, 600), face, Shape(coverage=coverage, feather=0.0)).sum()
             for coverage in ("face", "face_margin", "head")]
    assert areas[0] < areas[1] < areas[2]


def test_ears_and_neck_extend_the_mask():
    face = _upright_face()
    frame = face_frame(face)
    plain = _full((600, 600), face, Shape(coverage="face", feather=0.0))
    extended = _full((600, 600), face, Shape(coverage="face", feather=0.0, ears=True, neck=True))
    neck = frame.to_image(np.array([[0.0, 2.6]]))[0]  # below the chin
    ear = frame.to_image(np.array([[1.3, 0.4]]))[0]  # beside the right cheek
    for x, y in (neck, ear):
        assert plain[int(y), int(x)] == 0.0 and extended[int(y), int(x)] == 1.0


def test_masks_are_clipped_to_the_image():
    face = _upright_face(offset=(10.0, 10.0))
    mask = face_mask((100, 120), face, Shape())
    assert mask.x0 == 0 and mask.y0 == 0
    assert mask.alpha.shape[0] <= 100 and mask.alpha.shape[1] <= 120
    assert face_mask((100, 120), _upright_face(offset=(900.0, 900.0)), Shape()) is None


def test_a_fit_without_a_mesh_is_rejected():
    fit = SimpleNamespace(vertices_2d=np.zeros((5, 3)), triangles=np.zeros((2, 3), int))
    with pytest.raises(InvalidParameterError, match="vertices_2d"):
        face_mask((300, 300), _upright_face(), Shape(), fit)
