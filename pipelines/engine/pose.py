"""Head pose (yaw, pitch, roll in degrees) from 2D landmarks and a generic 3D face.

A generic face in millimetres is posed with ``cv2.solvePnP`` so that its points project
onto the detected ones (pinhole camera, focal length = longer image side, principal point
at the image centre). With 68 iBUG landmarks six well-spread points are used (eye outer
corners, nose tip, mouth corners, chin); with only the five detector keypoints the eye
centres, nose tip and mouth corners are used, which is coarser (no chin: pitch is weaker).

Conventions (camera axes: x to image right, y down, z into the scene):
  yaw   > 0  the face turns towards the image right
  pitch > 0  the face looks up
  roll  > 0  the face is tilted clockwise in the image
A frontal, upright face is (0, 0, 0).
"""

from __future__ import annotations

import cv2
import numpy as np

# Generic face, mm, x right, y down, z away from the camera (so the nose tip has z < 0).
FIVE_POINT_MODEL = np.array(
    [[-31.5, 0.0, 0.0], [31.5, 0.0, 0.0], [0.0, 36.0, -18.0], [-26.0, 72.7, 8.0], [26.0, 72.7, 8.0]],
    np.float64,
)  # [5,3] eye centres (image left, right), nose tip, mouth corners (image left, right)
IBUG_POSE_INDICES = (36, 45, 30, 48, 54, 8)
SIX_POINT_MODEL = np.array(
    [[-45.0, -34.0, 27.0], [45.0, -34.0, 27.0], [0.0, 0.0, 0.0], [-30.0, 30.0, 25.0], [30.0, 30.0, 25.0],
     [0.0, 66.0, 13.0]],
    np.float64,
)  # [6,3] outer eye corners (image left, right), nose tip, mouth corners, chin


def camera_matrix(image_size: tuple[int, int]) -> np.ndarray:
    """[3,3] pinhole intrinsics for an image of (height, width)."""
    height, width = image_size
    focal = float(max(height, width))
    return np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]], np.float64)


def angles_from_rotation(rotation: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of a head rotation [3,3] (model axes -> camera axes)."""
    forward = rotation @ np.array([0.0, 0.0, -1.0])  # where the face looks; (0,0,-1) when frontal
    yaw = np.arctan2(forward[0], -forward[2])
    pitch = np.arctan2(-forward[1], np.hypot(forward[0], forward[2]))
    without_roll = _rotation_y(-yaw) @ _rotation_x(-pitch)  # yaw then pitch, undone below
    residual = without_roll.T @ rotation  # [3,3] rotation about z only
    roll = np.arctan2(residual[1, 0], residual[0, 0])
    return float(np.degrees(yaw)), float(np.degrees(pitch)), float(np.degrees(roll))


def rotation_from_angles(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """[3,3] rotation with the given (yaw, pitch, roll) degrees; inverse of ``angles_from_rotation``."""
    yaw, pitch, roll = np.radians([yaw, pitch, roll])
    return _rotation_y(-yaw) @ _rotation_x(-pitch) @ _rotation_z(roll)


def _rotation_x(angle: float) -> np.ndarray:
    cos, sin = np.cos(angle), np.sin(angle)
    return np.array([[1, 0, 0], [0, cos, -sin], [0, sin, cos]])


def _rotation_y(angle: float) -> np.ndarray:
    cos, sin = np.cos(angle), np.sin(angle)
    return np.array([[cos, 0, sin], [0, 1, 0], [-sin, 0, cos]])


def _rotation_z(angle: float) -> np.ndarray:
    cos, sin = np.cos(angle), np.sin(angle)
    return np.array([[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]])


def _solve(model_points: np.ndarray, image_points: np.ndarray,
           image_size: tuple[int, int]) -> tuple[float, float, float] | None:
    camera = camera_matrix(image_size)
    points = np.ascontiguousarray(image_points, np.float64).reshape(-1, 1, 2)
    eye_span = np.linalg.norm(points[1, 0] - points[0, 0])
    model_span = np.linalg.norm(model_points[1] - model_points[0])
    distance = camera[0, 0] * model_span / max(eye_span, 1e-3)  # [mm] a frontal first guess
    rvec = np.zeros((3, 1))
    tvec = np.array([[0.0], [0.0], [distance]])
    found, rvec, tvec = cv2.solvePnP(
        model_points, points, camera, None, rvec, tvec, useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE
    )
    if not found:
        return None
    rotation, _ = cv2.Rodrigues(rvec)
    return angles_from_rotation(rotation)


def pose_from_kps(kps: np.ndarray, image_size: tuple[int, int]) -> tuple[float, float, float] | None:
    """Approximate (yaw, pitch, roll) from the five keypoints [5,2]."""
    return _solve(FIVE_POINT_MODEL, kps, image_size)


def pose_from_ibug68(landmarks: np.ndarray, image_size: tuple[int, int]) -> tuple[float, float, float] | None:
    """(yaw, pitch, roll) from iBUG-68 landmarks [68,2|3] (only x, y are used)."""
    return _solve(SIX_POINT_MODEL, landmarks[list(IBUG_POSE_INDICES), :2], image_size)


def estimate(face, image_size: tuple[int, int]) -> tuple[float, float, float] | None:
    """Best pose the face's landmarks allow: 68 iBUG points when present, else the five keypoints."""
    if face.landmarks_3d is not None and len(face.landmarks_3d) == 68:
        return pose_from_ibug68(face.landmarks_3d, image_size)
    if face.landmarks is not None and face.landmark_scheme == "68":
        return pose_from_ibug68(face.landmarks, image_size)
    return pose_from_kps(face.kps, image_size)
