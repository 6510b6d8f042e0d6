"""Face regions and pose-normalised geometry from the dense MediaPipe mesh (``Face.mesh`` [468,3]).

Shared by the privacy masks, the classical swap and the compatibility check:

- ``mesh_hull``: the convex hull of the mesh in the image, optionally extended from the top of the
  forehead (where the mesh stops) to the hairline along the face's own up axis;
- ``mesh_rotation``: the head's rotation from the mesh's own left-right and up-down axes (3D, so a
  turned face keeps its true proportions), ``mesh_pose``: that rotation as (yaw, pitch, roll);
- ``canonical_mesh``: the mesh rotated to frontal, centred and scaled to unit face height.

Axes follow ``pipelines.pose``: camera x to image right, y down, z away from the camera; a frontal
face's model axes equal the camera's.
"""

from __future__ import annotations

import cv2
import numpy as np

from . import pose
from .face import Face
from .face_mesh import PRESENCE_THRESHOLD

FOREHEAD_TOP, CHIN = 10, 152
# Symmetric vertex pairs (subject's right, subject's left), image left -> right on a frontal face:
# outer eye corners, inner eye corners, mouth corners (rigid features: the silhouette vertices slide
# along the visible outline of a turned face, so they would bend the axes).
SYMMETRIC_PAIRS = ((33, 263), (133, 362), (61, 291))
EYE_LINE = (33, 263)


def has_mesh(face: Face) -> bool:
    """True when the face carries a mesh the landmark model believes is a face."""
    return face.mesh is not None and (face.mesh_score is None or face.mesh_score >= PRESENCE_THRESHOLD)


def face_height(mesh: np.ndarray) -> float:
    """Forehead-top to chin distance in the image, pixels."""
    return float(np.linalg.norm(mesh[CHIN, :2] - mesh[FOREHEAD_TOP, :2]))


def mesh_hull(mesh: np.ndarray, lift: float = 0.0, widen: float = 1.0) -> np.ndarray:
    """[K,2] convex hull (image pixels) of the mesh [468,3].

    ``lift`` > 0 extends the face upwards: every point above the eye line is copied ``lift`` x the
    chin-to-forehead vector higher (that vector is the face's own up axis in the image, foreshortened
    as the head pitches), and the hull takes both. ``widen`` spreads those copies sideways about the
    face's centre line (a head is wider than a face)."""
    points = mesh[:, :2].astype(np.float64)  # [468,2] px
    if lift > 0:
        up = points[FOREHEAD_TOP] - points[CHIN]  # (2,) px, chin -> forehead top
        up_unit = up / max(np.linalg.norm(up), 1e-6)
        eye_level = points[list(EYE_LINE)].mean(0) @ up_unit
        upper = points[points @ up_unit > eye_level]  # [U,2]
        across = np.array([-up_unit[1], up_unit[0]])
        centre = points[[FOREHEAD_TOP, CHIN]].mean(0) @ across
        offsets = (upper @ across - centre)[:, None] * (widen - 1.0) * across  # [U,2]
        points = np.concatenate([points, upper + lift * up + offsets])
    return cv2.convexHull(points.astype(np.float32)).reshape(-1, 2)


def mesh_rotation(mesh: np.ndarray) -> np.ndarray:
    """[3,3] head rotation (model axes -> camera axes, columns = the face's right, down, back axes)."""
    points = mesh.astype(np.float64)  # [468,3] px
    right = sum(points[left] - points[right_] for right_, left in SYMMETRIC_PAIRS)  # (3,)
    right /= max(np.linalg.norm(right), 1e-9)
    down = points[CHIN] - points[FOREHEAD_TOP]
    down -= (down @ right) * right
    down /= max(np.linalg.norm(down), 1e-9)
    return np.stack([right, down, np.cross(right, down)], axis=1)


def mesh_pose(mesh: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) degrees with ``pipelines.pose``'s conventions."""
    return pose.angles_from_rotation(mesh_rotation(mesh))


def canonical_mesh(mesh: np.ndarray) -> np.ndarray:
    """[468,3] the mesh rotated to frontal, centred on its mean and scaled to unit face height
    (3D forehead-top to chin distance): x to the subject's left, y down, z away from the viewer."""
    points = mesh.astype(np.float64)
    frontal = (points - points.mean(0)) @ mesh_rotation(mesh)  # [468,3] rows rotated by R^T
    height = np.linalg.norm(frontal[CHIN] - frontal[FOREHEAD_TOP])
    return frontal / max(height, 1e-9)
