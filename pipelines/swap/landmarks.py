"""Face geometry for swapping: outline polygon, mouth interior, and the point set the classical warp uses.

Dense landmarks are used when the engine gives them (iBUG 68, mediapipe 468,
insightface 106). With only five points (the embedded CenterFace detector), the
outline comes from a symmetric frontal face contour drawn in the 112-px ArcFace
frame (jaw from the iBUG-68 jaw line, forehead arc a little above the brows),
placed on the face by the five-point similarity, stretched to the width and
length of the detector box and clamped into that box, so that the outline
follows the head's roll (from the eyes), the face's own proportions and the
visible extent of a turned head (from the box).
"""

from __future__ import annotations

import cv2
import numpy as np

from ..engine import face_regions
from ..engine.align import alignment_matrix
from ..engine.face import Face

# Symmetric frontal face contour in the 112x112 ArcFace frame, clockwise from the
# right temple over the chin to the left temple, then the forehead arc. [26,2]
_CENTER_X = 56.0
_HALF_WIDTH_Y = [  # (half width, y): jaw from the temple to the chin
    (39.5, 53.5), (39.0, 64.5), (37.0, 75.5), (34.0, 85.5), (29.0, 94.0),
    (23.0, 101.5), (16.0, 109.5), (9.0, 114.5), (0.0, 117.0),
]
_FOREHEAD = [(37.0, 42.0), (32.0, 35.0), (22.0, 31.0), (11.0, 29.0), (0.0, 28.5)]  # (half width, y), side to top


def _contour_112() -> np.ndarray:
    right = [(_CENTER_X + half, y) for half, y in _HALF_WIDTH_Y[:-1]]
    chin = [(_CENTER_X, _HALF_WIDTH_Y[-1][1])]
    left = [(_CENTER_X - half, y) for half, y in reversed(_HALF_WIDTH_Y[:-1])]
    forehead_left = [(_CENTER_X - half, y) for half, y in _FOREHEAD[:-1]]
    top = [(_CENTER_X, _FOREHEAD[-1][1])]
    forehead_right = [(_CENTER_X + half, y) for half, y in reversed(_FOREHEAD[:-1])]
    return np.array(right + chin + left + forehead_left + top + forehead_right, np.float32)


CONTOUR_112 = _contour_112()  # [26,2]
_FOREHEAD_POINTS = slice(17, 26)  # the forehead arc of CONTOUR_112, temple to temple

# A CenterFace box measured in the 112 frame (median over t1.jpg and the fixture faces):
# width and height. The box tells how wide and long this face is relative to that.
_BOX_SIZE_112 = np.array([83.0, 103.0], np.float32)
_SCALE_CENTER_112 = np.array([56.0, 72.0], np.float32)  # between the eyes and the mouth

# Inner-lip landmarks per dense scheme (the mouth interior polygon).
_INNER_LIPS = {
    "68": list(range(60, 68)),
    "468": [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95],
}
# Outer mouth corners per dense scheme, for the mouth width.
_MOUTH_CORNERS = {"68": (48, 54), "468": (61, 291)}
_LIP_GAP = {"68": (62, 66), "468": (13, 14)}  # inner upper lip centre, inner lower lip centre


def template_to_face(face: Face) -> np.ndarray:
    """2x3 affine taking the 112 ArcFace frame onto the face.

    The five points give position, size and roll (a similarity); the detector box,
    measured along the face's own axes, stretches the contour to this face's width
    and length (clamped to +-20%, since boxes vary between detectors).
    """
    to_face = cv2.invertAffineTransform(alignment_matrix(face.kps, 112))  # [2,3] 112 frame -> image
    scale = float(np.sqrt(abs(np.linalg.det(to_face[:, :2]))))
    box_size = np.array([face.width, face.height], np.float32) / scale  # in 112-frame units
    stretch = np.clip(box_size / _BOX_SIZE_112, 0.8, 1.2)  # [2]
    stretch_matrix = np.array(
        [[stretch[0], 0, (1 - stretch[0]) * _SCALE_CENTER_112[0]],
         [0, stretch[1], (1 - stretch[1]) * _SCALE_CENTER_112[1]]], np.float32)  # [2,3] within the 112 frame
    return _compose(to_face, stretch_matrix)


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """2x3 affine applying ``inner`` then ``outer``."""
    return np.hstack([outer[:, :2] @ inner[:, :2], (outer[:, :2] @ inner[:, 2] + outer[:, 2])[:, None]]).astype(
        np.float32)


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]  # [N,2]


def outline(face: Face) -> np.ndarray:
    """[N,2] face outline polygon in image pixels: the hull of the mesh (which reaches the top of the forehead),
    else the convex hull of dense landmarks raised above the brows, else the fitted contour."""
    if face.mesh is not None:
        return face_regions.mesh_hull(face.mesh)
    if face.landmarks is not None and len(face.landmarks) >= 68:
        hull = cv2.convexHull(face.landmarks.astype(np.float32))[:, 0]  # [N,2]
        return _raise_top(hull, face)
    return clip_to_box(_apply(template_to_face(face), CONTOUR_112), face)


def clip_to_box(points: np.ndarray, face: Face, margin: float = 0.03) -> np.ndarray:
    """Points [N,2] clamped into the detector box grown by ``margin`` x face size.

    A symmetric contour overshoots on the far side of a turned head; the box is
    tight around the visible face, so clamping to it trims the overshoot.
    """
    pad = margin * face.size
    x1, y1, x2, y2 = face.bbox
    clipped = points.astype(np.float32).copy()
    clipped[:, 0] = np.clip(clipped[:, 0], x1 - pad, x2 + pad)
    clipped[:, 1] = np.clip(clipped[:, 1], y1 - pad, y2 + pad)
    return clipped


def _raise_top(hull: np.ndarray, face: Face) -> np.ndarray:
    """Dense sets stop at the brows: push points above the eye line up by 15% of the eye distance."""
    eye_line_y = float(face.kps[:2, 1].mean())
    raised = hull.copy()
    up = raised[:, 1] < eye_line_y
    raised[up, 1] -= 0.15 * face.eye_distance
    return raised


def _mouth_landmarks(face: Face) -> tuple[np.ndarray, str] | None:
    """Landmarks [N,2] with a scheme that names the lips: the dense 2D set (iBUG 68 or mediapipe 468), else
    the 3D iBUG 68 that buffalo_l gives beside its 106 points (x, y only)."""
    scheme = face.landmark_scheme or ""
    if face.landmarks is not None and scheme in _INNER_LIPS and len(face.landmarks) > max(_INNER_LIPS[scheme]):
        return face.landmarks, scheme
    if face.landmarks_3d is not None and len(face.landmarks_3d) == 68:
        return face.landmarks_3d[:, :2], "68"
    return None


def mouth_interior(face: Face) -> np.ndarray | None:
    """[M,2] inner-lip polygon, or None without lip landmarks."""
    found = _mouth_landmarks(face)
    if found is None:
        return None
    points, scheme = found
    return points[_INNER_LIPS[scheme]]


def mouth_openness(face: Face) -> float | None:
    """Inner-lip gap divided by mouth width (0 closed, ~0.5 wide open), or None without lip landmarks."""
    found = _mouth_landmarks(face)
    if found is None:
        return None
    points, scheme = found
    upper, lower = _LIP_GAP[scheme]
    left, right = _MOUTH_CORNERS[scheme]
    width = float(np.linalg.norm(points[right] - points[left]))
    gap = float(np.linalg.norm(points[lower] - points[upper]))
    return gap / max(width, 1e-6)


def warp_points(face: Face) -> np.ndarray:
    """[N,2] corresponding points for the classical warp: dense landmarks + outline, or 5 points + fitted contour."""
    contour = clip_to_box(_apply(template_to_face(face), CONTOUR_112), face)  # [26,2]
    if face.landmarks is not None and face.landmark_scheme in ("68", "106", "468"):
        dense = face.landmarks[::6] if face.landmark_scheme == "468" else face.landmarks  # a subset keeps 468 light
        return np.vstack([dense, contour[_FOREHEAD_POINTS]]).astype(np.float32)
    return np.vstack([face.kps, contour]).astype(np.float32)  # [31,2]
