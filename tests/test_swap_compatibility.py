"""Compatibility scores order pairs sensibly and explain themselves."""

from __future__ import annotations

import dataclasses
import json

import cv2
import numpy as np
import pytest

from playalter.pipelines.engine.detection import detect_faces
from playalter.pipelines.swap.compatibility import WEIGHTS, compatibility

from conftest import read_rgb, requires_face_mesh, shared_face_photos


def _scaled(image: np.ndarray, face, factor: float):
    """The image resized by ``factor`` and the same face with its coordinates scaled."""
    resized = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    return resized, dataclasses.replace(face, bbox=face.bbox * factor, kps=face.kps * factor, pose=None)


def test_face_with_itself_scores_high_and_is_explained(t1_image, t1_faces):
    report = compatibility(t1_image, t1_faces[2], t1_image, t1_faces[2])
    assert report["score"] > 90
    assert set(report["factors"]) == set(WEIGHTS)
    assert report["factors"]["pose"]["value"]["difference_degrees"] == 0
    assert report["factors"]["skin_tone"]["value"] == 0
    assert report["factors"]["expression"]["score"] == 1.0  # the mesh measures mouth and eye opening
    assert report["recommendation"].startswith("Good match")
    json.dumps(report)


def test_similar_size_beats_ten_times_smaller(t1_image, t1_faces):
    face = t1_faces[2]
    close_image, close_face = _scaled(t1_image, face, 0.9)
    tiny_image, tiny_face = _scaled(t1_image, face, 0.1)
    similar = compatibility(t1_image, face, close_image, close_face)
    tiny = compatibility(t1_image, face, tiny_image, tiny_face)
    assert tiny["factors"]["size"]["value"] == pytest.approx(10, rel=0.01)
    assert tiny["factors"]["size"]["score"] == 0
    assert similar["score"] > tiny["score"] + 15
    assert "size" in tiny["recommendation"] or "resolution" in tiny["recommendation"]


def test_self_beats_other_people(t1_image, t1_faces):
    self_score = compatibility(t1_image, t1_faces[2], t1_image, t1_faces[2])["score"]
    others = [compatibility(t1_image, t1_faces[2], t1_image, face)["score"]
              for face in t1_faces if face is not t1_faces[2]]
    assert self_score > max(others)


@pytest.mark.fixtures
def test_frontal_pair_beats_frontal_versus_profile():
    photos = {path.name: path for path in shared_face_photos()}
    names = ("AFLW2000_image02202.jpg", "AFLW2000_image04085.jpg", "AFLW2000_image00181.jpg")
    if not all(name in photos for name in names):
        pytest.skip("../shared/fixtures/faces is absent")
    frontal_image, other_frontal_image, profile_image = (read_rgb(photos[name]) for name in names)
    frontal = detect_faces(frontal_image)[0]
    other_frontal = detect_faces(other_frontal_image)[0]
    profile = detect_faces(profile_image)[0]  # the main face, turned about 75 degrees
    itself = compatibility(frontal_image, frontal, frontal_image, frontal)
    frontal_pair = compatibility(frontal_image, frontal, other_frontal_image, other_frontal)
    versus_profile = compatibility(frontal_image, frontal, profile_image, profile)
    assert itself["score"] > frontal_pair["score"] > versus_profile["score"]
    assert versus_profile["factors"]["pose"]["value"]["difference_degrees"] > 45
    assert "head angle" in versus_profile["recommendation"]


def test_flame_shapes_and_attributes_are_used_when_given(t1_image, t1_faces):
    face = t1_faces[2]
    same = {"shape": np.zeros(10).tolist()}
    different = {"shape": np.full(10, 2.0).tolist()}
    close = compatibility(t1_image, face, t1_image, face, same, same)["factors"]["shape"]
    far = compatibility(t1_image, face, t1_image, face, same, different)["factors"]["shape"]
    assert close["score"] == 1 and far["score"] == 0 and "FLAME" in far["detail"]
    young = dataclasses.replace(face, age=25.0, sex="F")
    old = dataclasses.replace(face, age=65.0, sex="M")
    factor = compatibility(t1_image, young, t1_image, old)["factors"]["age_sex"]
    assert factor["score"] == 0 and factor["value"] == {"age_difference": 40.0, "same_sex": False}


def test_identity_similarity_is_reported_from_embeddings(t1_image, t1_faces):
    embedding = np.ones(512, np.float32) / np.sqrt(512)
    face = dataclasses.replace(t1_faces[2], embedding=embedding)
    factor = compatibility(t1_image, face, t1_image, face)["factors"]["identity"]
    assert factor["value"] == pytest.approx(1.0) and "same person" in factor["detail"]
    assert factor["score"] is None  # informative only


def test_dense_landmark_geometry_is_compared_up_to_similarity(t1_image, t1_faces):
    face = t1_faces[2]
    grid = np.stack(np.meshgrid(np.linspace(0, 60, 17), np.linspace(0, 70, 4)), -1).reshape(-1, 2)[:68]
    rotation = np.array([[np.cos(0.3), -np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]])
    same_shape = 1.7 * grid @ rotation.T + (40, 9)  # moved, turned and scaled: the same geometry
    wide = grid * (1.5, 1.0)  # a wider face

    def dense(points):
        return dataclasses.replace(face, landmarks=points.astype(np.float32), landmark_scheme="68", mesh=None)

    similar = compatibility(t1_image, dense(grid), t1_image, dense(same_shape))["factors"]["shape"]
    different = compatibility(t1_image, dense(grid), t1_image, dense(wide))["factors"]["shape"]
    assert similar["value"] < 1e-4 and similar["score"] == 1
    assert different["score"] < 0.8 and "Procrustes" in different["detail"]


@requires_face_mesh
def test_mesh_proportions_score_a_mirrored_face_above_other_people(t1_image, t1_faces):
    mirrored = detect_faces(np.ascontiguousarray(t1_image[:, ::-1]), order="left_to_right")[::-1]
    for index in (0, 1, 2):  # the faces within 30 degrees of frontal
        itself = compatibility(t1_image, t1_faces[index], t1_image[:, ::-1], mirrored[index])["factors"]["shape"]
        assert "face_width/height" in itself["value"]
        others = [compatibility(t1_image, t1_faces[index], t1_image, face)["factors"]["shape"]["score"]
                  for face in t1_faces if face is not t1_faces[index]]
        assert itself["score"] > max(others)


@requires_face_mesh
def test_an_opened_mouth_lowers_the_expression_factor(t1_image, t1_faces):
    face = t1_faces[2]
    opened = face.mesh.copy()
    gap = 0.3 * np.linalg.norm(face.mesh[291, :2] - face.mesh[61, :2])
    lower = opened[:, 1] > face.mesh[14, 1] - 1  # the lower lip and everything under it drop
    opened[lower, 1] += gap
    open_face = dataclasses.replace(face, mesh=opened)
    same = compatibility(t1_image, face, t1_image, face)["factors"]["expression"]
    different = compatibility(t1_image, face, t1_image, open_face)["factors"]["expression"]
    assert same["score"] == 1.0
    assert different["value"]["mouth"] > 0.2 and different["score"] < 0.5


@requires_face_mesh
def test_a_strongly_turned_target_lowers_the_pose_factor(t1_image, t1_faces):
    frontal, slightly_turned, turned = t1_faces[0], t1_faces[2], t1_faces[4]  # yaw about 10, -12 and -75 degrees
    close = compatibility(t1_image, frontal, t1_image, slightly_turned)["factors"]["pose"]
    far = compatibility(t1_image, frontal, t1_image, turned)["factors"]["pose"]
    assert far["value"]["difference_degrees"] > 45
    assert far["score"] < close["score"] - 0.3
