"""Face regions and pose-normalised geometry from the dense MediaPipe mesh (``Face.mesh`` [468,3]).

Shared by the privacy masks, the classical swap and the compatibility check:

- ``mesh_hull``: the convex hull of the mesh in the image, optionally extended from the top of the
  forehead (where the mesh stops) to the hairline along the face's own up axis;
- ``canonical_mesh``: the mesh rotated to frontal in the head frame of ``metric_face.head_axes`` (3D, so
  a turned face keeps its true proportions), centred and scaled to unit face height.
"""

from __future__ import annotations

import cv2
import numpy as np

from .face import Face
from .face_mesh import PRESENCE_THRESHOLD
from .metric_face import head_axes

FOREHEAD_TOP, CHIN = 10, 152
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


def canonical_mesh(mesh: np.ndarray) -> np.ndarray:
    """[468,3] the mesh rotated to frontal, centred on its mean and scaled to unit face height
    (3D forehead-top to chin distance): x to the subject's left, y up, z out of the face."""
    points = mesh.astype(np.float64)
    frontal = (points - points.mean(0)) @ head_axes(points).T  # [468,3] in the head frame
    height = np.linalg.norm(frontal[CHIN] - frontal[FOREHEAD_TOP])
    return frontal / max(height, 1e-9)
