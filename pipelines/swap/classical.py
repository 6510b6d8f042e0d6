"""The model-free swap: a piecewise-affine warp of the source face onto the target's geometry.

Both faces get the same point set: the 468 points of the MediaPipe mesh when
both faces carry one (``classical_dense``), else ``landmarks.warp_points``
(dense landmarks when both have the same scheme, ``classical_landmarks``;
otherwise five points plus the fitted face contour, ``classical_five_point``).
The target points are Delaunay-triangulated once per pair; each triangle of the
source is mapped onto its target triangle with its own affine transform. The
result is a Patch in the target frame that ``blend`` colour-corrects and blends.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..engine.face import Face
from . import landmarks
from .blend import Patch, region


def warp_kind(source: Face, target: Face) -> str:
    """Which point set the pair is warped with: classical_dense | classical_landmarks | classical_five_point."""
    if source.mesh is not None and target.mesh is not None:
        return "classical_dense"
    same_landmarks = (
        source.landmarks is not None
        and target.landmarks is not None
        and source.landmark_scheme == target.landmark_scheme
        and len(source.landmarks) == len(target.landmarks)
    )
    return "classical_landmarks" if same_landmarks else "classical_five_point"


def corresponding_points(source: Face, target: Face) -> tuple[np.ndarray, np.ndarray]:
    """[N,2] source points and [N,2] target points in the same order."""
    kind = warp_kind(source, target)
    if kind == "classical_dense":
        return source.mesh[:, :2].astype(np.float32), target.mesh[:, :2].astype(np.float32)  # [468,2] each
    if kind == "classical_landmarks":
        return landmarks.warp_points(source), landmarks.warp_points(target)
    return landmarks.warp_points(_five_point(source)), landmarks.warp_points(_five_point(target))


def _five_point(face: Face) -> Face:
    return Face(bbox=face.bbox, score=face.score, kps=face.kps)


def triangulate(points: np.ndarray) -> np.ndarray:
    """[T,3] vertex indices of the Delaunay triangulation of ``points`` [N,2]."""
    low = np.floor(points.min(axis=0)) - 1
    high = np.ceil(points.max(axis=0)) + 1
    subdivision = cv2.Subdiv2D((int(low[0]), int(low[1]), int(high[0] - low[0]) + 1, int(high[1] - low[1]) + 1))
    for point in points:
        subdivision.insert((float(point[0]), float(point[1])))
    corners = subdivision.getTriangleList().reshape(-1, 3, 2)  # [T,3,2] coordinates
    distances = np.linalg.norm(corners[:, :, None, :] - points[None, None], axis=-1)  # [T,3,N]
    indices = distances.argmin(axis=-1)  # [T,3]
    exact = np.take_along_axis(distances, indices[..., None], axis=-1)[..., 0] < 1e-3
    indices = indices[exact.all(axis=1)]  # drops triangles touching Subdiv2D's virtual outer vertices
    distinct = (indices[:, 0] != indices[:, 1]) & (indices[:, 1] != indices[:, 2]) & (indices[:, 0] != indices[:, 2])
    return indices[distinct]


def warp(source_image: np.ndarray, source_points: np.ndarray, target_points: np.ndarray,
         triangles: np.ndarray, x0: int, y0: int, shape: tuple[int, int]) -> Patch:
    """Map every source triangle onto its target triangle inside the region (x0, y0, shape)."""
    image = np.zeros((*shape, 3), np.uint8)
    valid = np.zeros(shape, bool)
    source_height, source_width = source_image.shape[:2]
    for triangle in triangles:
        source_tri = source_points[triangle].astype(np.float32)  # [3,2] source pixels
        target_tri = (target_points[triangle] - (x0, y0)).astype(np.float32)  # [3,2] region pixels
        if abs(cv2.contourArea(target_tri)) < 1.0 or abs(cv2.contourArea(source_tri)) < 1.0:
            continue
        left, top = np.floor(target_tri.min(0)).astype(int)
        right, bottom = np.ceil(target_tri.max(0)).astype(int) + 1
        left, top = max(left, 0), max(top, 0)
        right, bottom = min(right, shape[1]), min(bottom, shape[0])
        if right <= left or bottom <= top:
            continue
        s_left, s_top = np.clip(np.floor(source_tri.min(0)).astype(int) - 1, 0, None)
        s_right = min(int(np.ceil(source_tri[:, 0].max())) + 2, source_width)
        s_bottom = min(int(np.ceil(source_tri[:, 1].max())) + 2, source_height)
        if s_right <= s_left or s_bottom <= s_top:
            continue
        matrix = cv2.getAffineTransform((source_tri - (s_left, s_top)).astype(np.float32),
                                        (target_tri - (left, top)).astype(np.float32))  # [2,3]
        piece = cv2.warpAffine(source_image[s_top:s_bottom, s_left:s_right], matrix, (right - left, bottom - top),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        inside = np.zeros((bottom - top, right - left), np.uint8)
        cv2.fillConvexPoly(inside, np.round((target_tri - (left, top)) * 4).astype(np.int32), 1, cv2.LINE_8, 2)
        inside = inside.astype(bool)
        image[top:bottom, left:right][inside] = piece[inside]
        valid[top:bottom, left:right] |= inside
    return Patch(x0, y0, image, valid)


def swap(source_image: np.ndarray, source_face: Face, target_image: np.ndarray, target_face: Face) -> Patch:
    """The source face warped onto the target face's geometry, as a Patch in the target frame."""
    source_points, target_points = corresponding_points(source_face, target_face)
    x0, y0, x1, y1 = region(target_face, target_image.shape)
    return warp(source_image, source_points, target_points, triangulate(target_points), x0, y0, (y1 - y0, x1 - x0))
