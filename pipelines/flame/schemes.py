"""Map the landmarks a detector gives onto a landmark set of the model the fitter uses.

``observe(face, model)`` picks the richest set: the dense MediaPipe set (``model.dense``, about 460 FLAME
surface points with their table weights, 0.5 on the silhouette) when the face carries a ``mesh`` and the
model has that set, else the iBUG-68 set from ``to_ibug68``.

``to_ibug68(face)`` returns (points [68,2] pixels, weights [68]); points the source does not provide are
NaN with weight 0. Sources, best first:

- ``landmarks_3d`` (insightface 1k3d68): already the iBUG-68 markup; x, y are pixels.
- ``landmarks`` with scheme "68": used as they are.
- ``landmarks`` with scheme "106" (insightface 2d106det): its index groups are contour 0-32, one eye
  33-42, one brow 43-51, mouth 52-71, nose 72-86, the other eye 87-96, the other brow 97-105. Inside a
  group the 68-set points are found by geometry (extreme points and even resampling along each outline),
  which does not depend on the order of the points within a group; which eye / brow is the subject's
  right is decided from the image x positions: eye and brow points come from the upper / lower chains of
  each group's convex hull, the mouth's outer contour from the mouth group's hull, the nose base from its
  five lowest points and the bridge from the points on the nose's centre line. The inner-lip points
  (iBUG 61-68) get weight 0.
- ``kps`` (5 points, any detector): eye centres are not iBUG points, so only the nose tip and mouth corners
  are placed directly (weight 1); the 6 eye points get each eye keypoint (low weight 0.3), enough for a
  rigid fit with strong priors.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..core.errors import InvalidParameterError
from ..engine.face import Face
from .model import Embedding, LinearModel

GROUPS_106 = {
    "contour": range(0, 33),
    "eye_a": range(33, 43),
    "brow_a": range(43, 52),
    "mouth": range(52, 72),
    "nose": range(72, 87),
    "eye_b": range(87, 97),
    "brow_b": range(97, 106),
}


def observe(face: Face, model: LinearModel) -> tuple[np.ndarray, np.ndarray, Embedding]:
    """(points [L,2] pixels, weights [L], embedding) for one face, from the richest landmarks it carries."""
    dense = model.dense
    if face.mesh is not None and dense is not None:
        return face.mesh[dense.source, :2].astype(np.float64), dense.point_weights.copy(), dense
    points, weights = to_ibug68(face)
    return points, weights, model.ibug68


def to_ibug68(face: Face) -> tuple[np.ndarray, np.ndarray]:
    """(points [68,2], weights [68]) for one face, from the richest landmarks it carries."""
    if face.landmarks_3d is not None and len(face.landmarks_3d) == 68:
        return face.landmarks_3d[:, :2].astype(np.float64), np.ones(68)
    if face.landmarks is not None and face.landmark_scheme == "68" and len(face.landmarks) == 68:
        return face.landmarks.astype(np.float64), np.ones(68)
    if face.landmarks is not None and face.landmark_scheme == "106" and len(face.landmarks) == 106:
        return from_106(face.landmarks.astype(np.float64))
    if face.kps is not None:
        return from_5(face.kps.astype(np.float64))
    raise InvalidParameterError("the face has no landmarks to fit (need 5 keypoints, 68 or 106 landmarks)")


def from_5(kps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """5 keypoints (image-left eye, image-right eye, nose, image-left mouth corner, image-right one)."""
    points = np.full((68, 2), np.nan)
    weights = np.zeros(68)
    points[36:42], weights[36:42] = kps[0], 0.3  # subject's right eye = image left
    points[42:48], weights[42:48] = kps[1], 0.3
    points[30], weights[30] = kps[2], 1.0
    points[48], weights[48] = kps[3], 1.0
    points[54], weights[54] = kps[4], 1.0
    return points, weights


def _resample(polyline: np.ndarray, count: int) -> np.ndarray:
    """count points [count,2] evenly spaced by arc length along polyline [N,2] (ends included)."""
    lengths = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(polyline, axis=0), axis=1))])
    targets = np.linspace(0.0, lengths[-1], count)
    return np.stack([np.interp(targets, lengths, polyline[:, axis]) for axis in range(2)], axis=1)


def _chain(points: np.ndarray) -> np.ndarray:
    """Order points [N,2] into a path: start at the point with the smallest x, then nearest neighbour."""
    remaining = list(range(len(points)))
    order = [min(remaining, key=lambda index: points[index, 0])]
    remaining.remove(order[0])
    while remaining:
        last = points[order[-1]]
        following = min(remaining, key=lambda index: np.linalg.norm(points[index] - last))
        order.append(following)
        remaining.remove(following)
    return points[order]


def _edge(points: np.ndarray, upper: bool, count: int) -> np.ndarray:
    """count points [count,2] along the upper (or lower) chain of the convex hull of points [N,2], at even
    x steps from the leftmost to the rightmost point (image y grows downwards)."""
    hull = cv2.convexHull(points.astype(np.float32)).reshape(-1, 2).astype(np.float64)  # [H,2]
    left, right = int(np.argmin(hull[:, 0])), int(np.argmax(hull[:, 0]))
    rolled = np.roll(hull, -left, axis=0)  # starts at the leftmost point
    split = (right - left) % len(hull)
    chains = (rolled[:split + 1], np.vstack([rolled[split:], rolled[:1]])[::-1])
    chain = min(chains, key=lambda c: c[:, 1].mean()) if upper else max(chains, key=lambda c: c[:, 1].mean())
    chain = chain[np.argsort(chain[:, 0], kind="stable")]
    xs = np.linspace(hull[left, 0], hull[right, 0], count)
    return np.stack([xs, np.interp(xs, chain[:, 0], chain[:, 1])], axis=1)


def _eye(points: np.ndarray) -> np.ndarray:
    """6 iBUG eye points [6,2] (corner, 2 upper, corner, 2 lower) from an eye outline, image-left first."""
    upper = _edge(points, upper=True, count=4)
    lower = _edge(points, upper=False, count=4)
    return np.array([upper[0], upper[1], upper[2], upper[3], lower[2], lower[1]])


def from_106(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """insightface 2d106det points [106,2] -> (points [68,2], weights [68])."""
    group = {name: landmarks[list(indices)] for name, indices in GROUPS_106.items()}
    points = np.full((68, 2), np.nan)
    weights = np.ones(68)
    points[0:17] = _resample(_chain(group["contour"]), 17)
    eyes = sorted((group["eye_a"], group["eye_b"]), key=lambda eye: eye[:, 0].mean())
    brows = sorted((group["brow_a"], group["brow_b"]), key=lambda brow: brow[:, 0].mean())
    points[36:42] = _eye(eyes[0])
    points[42:48] = _eye(eyes[1])
    points[17:22] = _edge(brows[0], upper=True, count=5)
    points[22:27] = _edge(brows[1], upper=True, count=5)
    nose = group["nose"]
    lowest = np.argsort(nose[:, 1])[-5:]
    base = nose[lowest]
    points[31:36] = base[np.argsort(base[:, 0])]  # nostril base, image-left to image-right
    rest = np.delete(nose, lowest, axis=0)
    centre_x, width = base[:, 0].mean(), np.ptp(base[:, 0])
    bridge = rest[np.abs(rest[:, 0] - centre_x) < 0.15 * width]  # the ridge, nasion down to the tip
    points[27:31] = _resample(bridge[np.argsort(bridge[:, 1])], 4) if len(bridge) >= 2 else np.nan
    mouth = group["mouth"]
    outer_upper = _edge(mouth, upper=True, count=7)
    outer_lower = _edge(mouth, upper=False, count=7)
    points[48:55] = outer_upper
    points[55:60] = outer_lower[5:0:-1]
    weights[60:68] = 0.0
    return points, weights
