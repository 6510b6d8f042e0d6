"""Scale-free proportions of a face's shape, measured on its pose-normalised dense mesh.

Used wherever two faces' shapes are compared without an identity model: the swap compatibility check
and, as its fallback, the one-person check of measurement fusion.
"""

from __future__ import annotations

import numpy as np

from . import face_regions

MESH_RATIOS = ("face_width/height", "eye_spacing/face_width", "nose_width/face_width", "nose_length/face_height",
               "mouth_width/face_width", "jaw_width/face_width")
# Their spread between people (standard deviation over the 6 faces of t1.jpg and 8 fixture photos): a
# difference of one spread is typical between two different faces.
RATIO_SPREAD = np.array([0.054, 0.017, 0.028, 0.008, 0.043, 0.020])  # [6]


def mesh_ratios(mesh: np.ndarray) -> np.ndarray:
    """(6,) ``MESH_RATIOS`` measured on the pose-normalised mesh [468,3] (3D, so a turned face keeps them)."""
    points = face_regions.canonical_mesh(mesh)  # [468,3] unit face height

    def distance(first, second) -> float:
        return float(np.linalg.norm(np.mean(points[list(first)], 0) - np.mean(points[list(second)], 0)))

    width, height = distance([234], [454]), distance([10], [152])
    return np.array([width / height, distance([33, 133], [263, 362]) / width, distance([98], [327]) / width,
                     distance([168], [2]) / height, distance([61], [291]) / width, distance([172], [397]) / width])


def shape_difference(first: np.ndarray, second: np.ndarray) -> float:
    """Mean difference of two meshes' [468,3] ``MESH_RATIOS`` in typical between-person spreads."""
    return float(np.mean(np.abs(mesh_ratios(first) - mesh_ratios(second)) / RATIO_SPREAD))
