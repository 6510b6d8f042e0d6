"""Derive the triangulation and the left/right mirror pairs of MediaPipe's 468-point face mesh.

Run once (needs ../shared/fixtures/faces, the MediaPipe models and scipy):

    PYTHONPATH=<folder holding the playalter package> python tools/derive_face_mesh_topology.py

1. Four near-frontal fixture faces are detected, put in the head frame (pipelines.metric_face) and
   averaged, each normalised by its outer-canthal width: a frontal template [468,3].
2. Triangles: Delaunay of the template's (x, y), minus those that span the eye openings or the mouth
   opening (all three corners on one of those contour loops, or the centroid inside the loop). The face
   outline is convex, so Delaunay adds no slivers along it (every vertex ends up in a triangle).
3. Mirror pairs: the template reflected across its mid-plane (x -> -x about the mean x of the points),
   each vertex matched to the nearest reflected vertex (optimal one-to-one assignment); the map must be
   an involution (mirror[mirror[i]] == i), which the tool asserts.

Writes pipelines/engine/data/face_mesh_topology.json: {"triangles": [[a, b, c], ...], "mirror": [468 ints]}.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial import Delaunay

from playalter.pipelines.engine.detection.api import detect_faces
from playalter.pipelines.engine.metric_face import LEFT_EYE, RIGHT_EYE, metric_face

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "faces"
FRONTAL = ("AFLW2000_image04085.jpg", "AFLW2000_image02202.jpg", "examples_image02673.png", "exp_8.jpg")
OUTPUT = ROOT / "pipelines" / "data" / "face_mesh_topology.json"
OPENINGS = {  # contour loops, in order around each opening
    "right_eye": (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7),
    "left_eye": (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249),
    "mouth": (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95),
}


def template() -> np.ndarray:
    """[468,3] mean frontal face, outer-canthal width 1."""
    shapes = []
    for name in FRONTAL:
        bgr = cv2.imread(str(FIXTURES / name), cv2.IMREAD_COLOR)
        face = detect_faces(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))[0]
        vertices = metric_face(face).vertices
        shapes.append(vertices / np.linalg.norm(vertices[LEFT_EYE["outer"]] - vertices[RIGHT_EYE["outer"]]))
    return np.mean(shapes, axis=0)


def triangles(points_2d: np.ndarray) -> np.ndarray:
    """[T,3] triangles of the face without its openings."""
    simplices = Delaunay(points_2d).simplices  # [T0,3]
    keep = np.ones(len(simplices), dtype=bool)
    for loop in OPENINGS.values():
        on_loop = np.isin(simplices, loop).all(axis=1)
        polygon = points_2d[list(loop)].astype(np.float32).reshape(-1, 1, 2)
        inside = np.array([cv2.pointPolygonTest(polygon, tuple(map(float, centre)), False) > 0
                           for centre in points_2d[simplices].mean(axis=1)])
        keep &= ~(on_loop | inside)
    result = simplices[keep]
    first, second = points_2d[result[:, 1]] - points_2d[result[:, 0]], points_2d[result[:, 2]] - points_2d[result[:, 0]]
    normals_z = first[:, 0] * second[:, 1] - first[:, 1] * second[:, 0]  # [T]
    result[normals_z < 0] = result[normals_z < 0][:, ::-1]  # counter-clockwise seen from the front (+z)
    return result


def mirror_pairs(points: np.ndarray) -> np.ndarray:
    """[468] index of each vertex's mirror image."""
    reflected = points.copy()
    reflected[:, 0] = 2 * points[:, 0].mean() - points[:, 0]
    cost = np.linalg.norm(points[:, None] - reflected[None], axis=2)  # [468,468]
    _, mirror = linear_sum_assignment(cost)
    assert np.array_equal(mirror[mirror], np.arange(len(points))), "mirror map is not an involution"
    return mirror


def main() -> None:
    points = template()
    result = {"triangles": triangles(points[:, :2]).tolist(), "mirror": mirror_pairs(points).tolist()}
    OUTPUT.write_text(json.dumps(result, separators=(",", ":")) + "\n")
    print(f"{len(result['triangles'])} triangles, "
          f"{sum(i == j for i, j in enumerate(result['mirror']))} midline vertices -> {OUTPUT}")


if __name__ == "__main__":
    main()
