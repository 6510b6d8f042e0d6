"""A photo's face turned in 3D by a known yaw and pitch: the pose effect on measurements without posed ground truth.

The face's dense mesh (MediaPipe's 468 points; its z is in the same pixel scale as x and y) is rotated
about the head's own axes (``metric_face.head_axes``) around the mesh centroid, projected orthographically
(so the image scale at the face is unchanged), and each triangle of a Delaunay triangulation of the
frontal mesh is warped from the photo to its new place, far triangles first. The photo's face region is
first smeared (a strong blur), so no ghost of the unturned face remains where the turned one no longer
covers it. Ears and hair do not turn: the copy is a textured mask, good enough for the landmark model, not
a re-photographed head. Used by bench/measurement_error.py and tests/test_measurement_error.py.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import Delaunay

from playalter.pipelines.engine.face import Face
from playalter.pipelines.engine.metric_face import head_axes, require_mesh


def _rotation(axis: np.ndarray, degrees: float) -> np.ndarray:
    """[3,3] rotation by ``degrees`` about the unit ``axis`` (Rodrigues)."""
    angle = np.radians(degrees)
    cross = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * cross + (1 - np.cos(angle)) * cross @ cross


def turned_points(face: Face, yaw: float, pitch: float) -> np.ndarray:
    """[468,3] image px: the face's mesh turned by ``yaw`` about the head's vertical axis, then ``pitch``
    about its horizontal axis, around the mesh centroid."""
    points = require_mesh(face)  # [468,3]
    axes = head_axes(points)  # [3,3] rows x, y, z of the head in image axes
    rotation = _rotation(axes[0], pitch) @ _rotation(axes[1], yaw)  # [3,3]
    centre = points.mean(axis=0)
    return (points - centre) @ rotation.T + centre


def turn_face(image: np.ndarray, face: Face, yaw: float, pitch: float = 0.0) -> np.ndarray:
    """uint8 [H,W,3] copy of ``image`` with ``face`` turned by ``yaw`` and ``pitch`` degrees."""
    source = require_mesh(face)  # [468,3] px
    target = turned_points(face, yaw, pitch)  # [468,3] px
    frontal = (source - source.mean(axis=0)) @ head_axes(source).T  # [468,3] head frame, px
    triangles = Delaunay(frontal[:, :2]).simplices  # [T,3]
    canvas = image.copy()
    hull = cv2.convexHull(source[:, :2].astype(np.float32)).astype(np.int32)
    region = np.zeros(image.shape[:2], np.uint8)
    cv2.fillConvexPoly(region, hull, 255)
    region = cv2.dilate(region, np.ones((7, 7), np.uint8))
    small = cv2.resize(image, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    small_region = cv2.resize(region, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST)
    filled = cv2.resize(cv2.inpaint(small, small_region, 5, cv2.INPAINT_TELEA), (image.shape[1], image.shape[0]))
    canvas[region > 0] = filled[region > 0]
    depth = target[triangles, 2].mean(axis=1)  # [T]: larger is farther from the camera
    for triangle in triangles[np.argsort(-depth)]:
        _warp_triangle(image, canvas, source[triangle, :2], target[triangle, :2])
    return canvas


def _warp_triangle(image: np.ndarray, canvas: np.ndarray, source: np.ndarray, target: np.ndarray) -> None:
    """Paint the ``source`` triangle [3,2] of ``image`` onto ``canvas`` at ``target`` [3,2] (px)."""
    height, width = canvas.shape[:2]
    x0, y0 = np.floor(target.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(target.max(axis=0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 - x0 < 1 or y1 - y0 < 1:
        return
    matrix = cv2.getAffineTransform(source.astype(np.float32), (target - [x0, y0]).astype(np.float32))
    patch = cv2.warpAffine(image, matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(mask, np.round(target - [x0, y0]).astype(np.int32), 1, lineType=cv2.LINE_8)
    view = canvas[y0:y1, x0:x1]
    view[mask > 0] = patch[mask > 0]
