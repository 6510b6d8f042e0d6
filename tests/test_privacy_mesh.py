"""Privacy masks shaped by the dense MediaPipe mesh, on t1.jpg: they follow the real face, stay tighter
than the keypoint ellipses outside it, and still hide every face."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from playalter.pipelines.engine.detection import detect_faces
from playalter.pipelines.privacy import PrivacyOptions, anonymize
from playalter.pipelines.privacy import geometry
from playalter.pipelines.privacy.geometry import SMALL_FACE, Shape, face_mask, union

from conftest import requires_face_mesh

pytestmark = requires_face_mesh


@pytest.fixture(scope="module")
def t1_faces(t1_image):
    faces = detect_faces(t1_image, order="left_to_right")
    assert len(faces) == 6 and all(face.mesh is not None for face in faces)
    return faces


def _keypoints_only(face):
    return dataclasses.replace(face, mesh=None, mesh_score=None, landmarks=None, landmark_scheme=None)


def _mask(image_shape, face, shape: Shape) -> np.ndarray:
    return union(image_shape, [face_mask(image_shape, face, shape)])


def _mesh_alpha(full: np.ndarray, face) -> np.ndarray:
    """[468] mask values at the mesh points."""
    columns, rows = np.round(face.mesh[:, :2]).astype(int).T
    return full[rows, columns]


def _distance_to_mesh(image_shape, face) -> np.ndarray:
    """float [H,W]: pixels from the mesh's convex hull (no hairline lift)."""
    hull = np.zeros(image_shape[:2], np.uint8)
    points = cv2.convexHull(face.mesh[:, :2].astype(np.float32)).reshape(-1, 2)
    cv2.fillConvexPoly(hull, np.round(points).astype(np.int32), 255)
    return cv2.distanceTransform(255 - hull, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def _below_the_eyes(image_shape, face) -> np.ndarray:
    """bool [H,W]: the side of the eye line towards the chin, along the face's own axis."""
    up = face.mesh[10, :2] - face.mesh[152, :2]
    rows, columns = np.mgrid[:image_shape[0], :image_shape[1]]
    return np.stack([columns, rows], axis=-1) @ up < face.mesh[[33, 263], :2].mean(0) @ up


@pytest.mark.parametrize("coverage", ["face", "face_margin", "head"])
def test_every_mesh_point_is_masked(t1_image, t1_faces, coverage):
    for face in t1_faces:  # includes the face turned to a yaw of about -71 degrees
        mask = face_mask(t1_image.shape, face, Shape(coverage=coverage))
        assert mask.sources == ("mesh_468",)
        alpha = _mesh_alpha(union(t1_image.shape, [mask]), face)
        if coverage == "face":  # no margin: hull vertices rounded to a pixel may sit half a pixel outside
            assert alpha.min() > 0.9, f"face at {face.bbox}"
        else:
            assert (alpha == 1.0).all(), f"a mesh point of the face at {face.bbox} is not fully masked"


def test_the_mask_reaches_above_the_mesh_to_the_hairline(t1_image, t1_faces):
    for face in t1_faces:
        full = _mask(t1_image.shape, face, Shape(coverage="face", feather=0.0))
        top, chin = face.mesh[10, :2], face.mesh[152, :2]
        above = top + 0.15 * (top - chin)  # 15% of the face height above the forehead top: under the hair
        below_chin = chin + 0.05 * (chin - top)
        assert full[int(round(above[1])), int(round(above[0]))] == 1.0
        assert full[int(round(below_chin[1])), int(round(below_chin[0]))] == 0.0  # "face" has no margin


def test_mesh_masks_are_tighter_than_keypoint_ellipses_outside_the_face(t1_image, t1_faces):
    """Below the eyes nothing spills beyond the mesh + margin + feather (the ellipses spill onto necks and
    backgrounds); above them the mask reaches the hairline, and over the image it still masks less."""
    shape = Shape()  # margin 0.2, feather 0.1
    dense_total = ellipse_total = ellipse_below = 0
    for face in t1_faces:
        beyond = _distance_to_mesh(t1_image.shape, face) > (shape.margin + shape.feather) * face.size + 1
        below = beyond & _below_the_eyes(t1_image.shape, face)
        dense, ellipses = _mask(t1_image.shape, face, shape), _mask(t1_image.shape, _keypoints_only(face), shape)
        assert not (dense[below] > 0).any(), f"face at {face.bbox}"
        ellipse_below += int((ellipses[below] > 0).sum())
        dense_total += int((dense[beyond] > 0).sum())
        ellipse_total += int((ellipses[beyond] > 0).sum())
    assert ellipse_below > 5000
    assert dense_total < 0.9 * ellipse_total


@pytest.mark.parametrize("mask_type", ["blur", "pixelate"])
def test_outside_the_mesh_masks_nothing_changes(t1_image, t1_faces, mask_type):
    result = anonymize(t1_image, t1_faces, PrivacyOptions(mask_type))
    assert all(entry["sources"] == ["mesh_468"] for entry in result.faces)
    outside = result.mask == 0
    np.testing.assert_array_equal(result.image[outside], t1_image[outside])
    changed = np.any(result.image != t1_image, axis=2)
    for face in t1_faces:
        assert _mesh_alpha(changed.astype(np.float32), face).mean() > 0.8


def test_default_pass_leaves_no_detectable_face(t1_image, t1_faces):
    result = anonymize(t1_image, t1_faces, PrivacyOptions())
    assert detect_faces(result.image) == []


def test_a_doubtful_mesh_keeps_the_keypoint_shapes(t1_image, t1_faces):
    face = t1_faces[2]
    doubtful = dataclasses.replace(face, mesh_score=0.1)
    mask = face_mask(t1_image.shape, doubtful, Shape())
    assert mask.sources == ("mesh_468", "keypoints")
    full = union(t1_image.shape, [mask])
    assert (full >= _mask(t1_image.shape, face, Shape())).all()
    assert (full >= _mask(t1_image.shape, _keypoints_only(face), Shape())).all()


def test_a_small_face_keeps_the_keypoint_shapes_too(t1_image, monkeypatch):
    """Below SMALL_FACE px the mesh hull alone left faces a detector still found: the keypoint shapes join it."""
    small_image = cv2.resize(t1_image, None, fx=0.3, fy=0.3, interpolation=cv2.INTER_AREA)
    faces = [face for face in detect_faces(small_image) if face.mesh is not None]
    assert len(faces) >= 4 and all(face.size < SMALL_FACE for face in faces)
    masks = [face_mask(small_image.shape, face, Shape()) for face in faces]
    monkeypatch.setattr(geometry, "SMALL_FACE", 0.0)
    for face, mask in zip(faces, masks):
        assert mask.sources == ("mesh_468", "keypoints")
        full = union(small_image.shape, [mask])
        mesh_only = face_mask(small_image.shape, face, Shape())
        assert mesh_only.sources == ("mesh_468",)
        for part in (union(small_image.shape, [mesh_only]), _mask(small_image.shape, _keypoints_only(face), Shape())):
            assert (full >= part - 1e-6).all()  # a larger shape's feather: the same ramp, rounded apart
        assert (full > 0).sum() > (union(small_image.shape, [mesh_only]) > 0).sum()
