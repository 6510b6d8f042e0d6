"""Head pose from five keypoints and from iBUG-68 landmarks."""

from __future__ import annotations

import numpy as np
import pytest

from playalter.pipelines.engine import pose
from playalter.pipelines.engine.detection import detect_faces

from conftest import read_rgb

IMAGE_SIZE = (900, 1200)
ANGLES = [(0, 0, 0), (30, 0, 0), (-45, 0, 0), (0, 20, 0), (0, -15, 0), (0, 0, 25), (25, -15, 10), (-35, 10, -8)]


def _project(model: np.ndarray, angles, center_offset=(40.0, -30.0), distance=700.0) -> np.ndarray:
    """[N,2] pixels of the generic model posed by ``angles`` in front of the camera."""
    points = model @ pose.rotation_from_angles(*angles).T + [center_offset[0], center_offset[1], distance]  # [N,3]
    projected = points @ pose.camera_matrix(IMAGE_SIZE).T  # [N,3]
    return projected[:, :2] / projected[:, 2:]


@pytest.mark.parametrize("angles", ANGLES)
def test_angles_round_trip_through_rotations(angles):
    assert pose.angles_from_rotation(pose.rotation_from_angles(*angles)) == pytest.approx(angles, abs=1e-6)


@pytest.mark.parametrize("angles", ANGLES)
def test_five_point_pose_is_recovered(angles):
    assert pose.pose_from_kps(_project(pose.FIVE_POINT_MODEL, angles), IMAGE_SIZE) == pytest.approx(angles, abs=0.5)


@pytest.mark.parametrize("angles", ANGLES)
def test_ibug68_pose_is_recovered(angles):
    landmarks = np.zeros((68, 2))
    landmarks[list(pose.IBUG_POSE_INDICES)] = _project(pose.SIX_POINT_MODEL, angles)
    assert pose.pose_from_ibug68(landmarks, IMAGE_SIZE) == pytest.approx(angles, abs=0.5)


def test_turning_right_is_positive_yaw():
    kps = _project(pose.FIVE_POINT_MODEL, (0, 0, 0))
    kps[2, 0] += 15  # nose moved towards the image right
    assert pose.pose_from_kps(kps, IMAGE_SIZE)[0] > 10


@pytest.mark.fixtures
def test_keypoint_pose_agrees_with_ground_truth_landmarks(shared_fixtures):
    """iBUG 300-W image_0010: pose from its 68 annotated points vs from detected keypoints."""
    image = read_rgb(shared_fixtures / "faces" / "ibug300w_image_0010.png")
    lines = (shared_fixtures / "faces" / "ibug300w_image_0010.pts").read_text().splitlines()[3:71]
    truth = np.array([[float(value) for value in line.split()] for line in lines])  # [68,2]
    reference = pose.pose_from_ibug68(truth, image.shape[:2])
    from_kps = detect_faces(image, backend="centerface")[0].pose
    assert reference[0] < -20  # this face is turned towards the image left
    assert from_kps == pytest.approx(reference, abs=15)
