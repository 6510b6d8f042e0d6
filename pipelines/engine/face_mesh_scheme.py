"""Index sets of MediaPipe's 468-point face mesh.

``IBUG68`` picks, for each of the 68 iBUG 300-W points, the mesh vertex at the same anatomical place, so
every consumer of 68 points (pose, FLAME fitting, masks, swap) works on dense-landmark faces. The 17
contour points are the mesh's silhouette vertices at matching heights; on a turned face the iBUG contour
follows the visible outline while mesh vertices stay on the skin, so contour points are less exact than
the 51 inner ones.

``triangles()`` and ``mirror_pairs()`` read the committed topology (pipelines/engine/data/face_mesh_topology.json,
made by tools/derive_face_mesh_topology.py): a triangulation of the face without the eye and mouth
openings, and for each vertex its left/right mirror partner (midline vertices map to themselves).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import numpy as np

N_POINTS = 468

IBUG68 = np.array([
    # jaw line, subject's right ear to left ear (0-16)
    127, 234, 93, 132, 58, 172, 136, 150, 152, 379, 365, 397, 288, 361, 323, 454, 356,
    # right brow (17-21), left brow (22-26)
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
    # nose bridge (27-30), nose base (31-35)
    168, 197, 5, 4, 98, 97, 2, 326, 327,
    # right eye (36-41), left eye (42-47)
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
    # outer lips (48-59), inner lips (60-67)
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,
    78, 82, 13, 312, 308, 317, 14, 87,
])  # [68]


def to_ibug68(points: np.ndarray) -> np.ndarray:
    """[468,D] mesh points -> [68,D] iBUG-68 points."""
    return points[IBUG68]


@lru_cache(maxsize=1)
def _topology() -> dict:
    data = json.loads(resources.files(__package__).joinpath("data", "face_mesh_topology.json").read_text())
    return {"triangles": np.asarray(data["triangles"], dtype=np.int64),
            "mirror": np.asarray(data["mirror"], dtype=np.int64)}


def triangles() -> np.ndarray:
    """[T,3] vertex ids, counter-clockwise seen from the front."""
    return _topology()["triangles"]


def mirror_pairs() -> np.ndarray:
    """[468] the mirror partner of each vertex (an involution)."""
    return _topology()["mirror"]
