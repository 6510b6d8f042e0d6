"""Export of the metric dense face mesh (OBJ / PLY / GLB, millimetres, head frame) and its preview drawing."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import face_mesh_scheme
from .face import Face
from .mesh_io import draw_fit, write_mesh
from .metric_face import face_mesh_mm, require_mesh

CAMERA_DISTANCE_PX = 1.0e5  # the preview puts the camera this far in front of the image plane


def export_face_mesh(face: Face, path: Path) -> Path:
    """Write the face's metric mesh (468 vertices, mm, head frame) by the file suffix (.obj, .ply, .glb)."""
    vertices, triangles = face_mesh_mm(face)
    return write_mesh(Path(path), vertices, triangles,
                      comment="PLAYALTER dense face mesh (MediaPipe 468), millimetres, x right-to-left, y up, z out")


def draw_face_mesh(image: np.ndarray, faces: list[Face]) -> np.ndarray:
    """uint8 RGB [H,W,3] copy of image with each dense face's front-facing wireframe (green) and its
    iBUG-68 points (red); faces without a mesh are left out."""
    canvas = image
    for face in faces:
        if face.mesh is None:
            continue
        points = require_mesh(face)  # [468,3] image px, z away from the camera
        # [468,3] camera axes for draw_fit: y up, the camera at the origin looking down -z
        camera = np.column_stack([points[:, 0], -points[:, 1], -(points[:, 2] + CAMERA_DISTANCE_PX)])
        canvas = draw_fit(canvas, points[:, :2], camera, face_mesh_scheme.triangles(),
                          face_mesh_scheme.to_ibug68(points[:, :2]))
    return canvas if canvas is not image else image.copy()
