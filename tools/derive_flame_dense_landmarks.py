"""Derive the correspondence of MediaPipe Face Mesh's 468 points to FLAME topology.

Run once by a developer::

    python tools/derive_flame_dense_landmarks.py [head_template.obj] [photo ...]

It writes ``pipelines/flame/mediapipe468_on_flame.npz`` (package data) and prints the alignment residuals.
Steps:

1. Face mesh. ``detect_faces`` on near-frontal photos (default: six fixture photos with |yaw| and |pitch|
   under 12 degrees) gives 468 3D points each (x, y image pixels, z depth pixels). They become model axes
   by flipping y and z (image y grows down, MediaPipe z grows away from the camera).
2. Similarity. Each photo's mesh is aligned to the FLAME mean head by the 3D similarity (Umeyama, no
   reflection) that maps its 51 inner iBUG points (``face_mesh_scheme.IBUG68[17:]``) onto PLAYALTER's
   51 inner iBUG points on FLAME (``landmarks.IBUG68_*``); the aligned meshes are averaged.
3. Warp. The residual is corrected by a smoothed 3D thin-plate-spline warp (scipy ``RBFInterpolator``
   with an affine part) fitted on all 68 pairs and applied to all 468 points: the 51 inner pairs, plus the
   17 jaw-contour pairs, which on near-frontal photos are both the frontal face outline (without them the
   warp extrapolates freely at the border and the outline points end up centimetres off the head).
4. Projection. Each warped point is moved to the nearest point of FLAME's head surface (eyeballs
   excluded): among the triangles around its 12 nearest head vertices, the one whose plane projection,
   with barycentric weights clamped to the triangle, is closest.
5. Drops. A point is dropped when it is more than ``MAX_SURFACE_DISTANCE`` from the surface after the
   warp (it does not lie on FLAME's skin, e.g. inside the mouth) or when its surface point faces away from
   a frontal camera (surface normal z < 0: behind the face outline, outside the face region).
6. Weights. Points of MediaPipe's face-oval ring (``FACE_OVAL``) and points whose surface turns more than
   60 degrees from a frontal view get weight 0.5 (their image position follows the silhouette and so the
   head pose); all others weight 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
from scipy.interpolate import RBFInterpolator

from playalter.pipelines.engine import face_mesh_scheme
from playalter.pipelines.engine.detection.api import detect_faces
from playalter.pipelines.flame import landmarks
from playalter.pipelines.engine.mesh_io import read_obj

HEAD_VERTICES = 3931  # FLAME vertices 0..3930 are the head surface, then two eyeballs
MAX_SURFACE_DISTANCE = 0.004  # metres
WARP_SMOOTHING = 1e-6  # thin-plate-spline smoothing (metres^2 scale): the 51 pairs are not exact
SILHOUETTE_WEIGHT = 0.5
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148,
             176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
DEFAULT_PHOTOS = ("AFLW2000_image02202.jpg", "AFLW2000_image04085.jpg", "examples_IMG_0392_inputs.jpg",
                  "examples_image02673.png", "exp_5.jpg", "exp_8.jpg")
OUTPUT = Path(__file__).resolve().parents[1] / "pipelines" / "flame" / "mediapipe468_on_flame.npz"


def umeyama(source: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Similarity (scale, rotation [3,3], translation [3]) minimising |s R source + t - target|^2."""
    mu_s, mu_t = source.mean(axis=0), target.mean(axis=0)
    a, b = source - mu_s, target - mu_t
    u, sigma, vt = np.linalg.svd(b.T @ a / len(a))
    d = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ d @ vt
    scale = float(np.trace(np.diag(sigma) @ d) / (a ** 2).sum(axis=1).mean())
    return scale, rotation, mu_t - scale * rotation @ mu_s


def mesh_of(photo: Path) -> np.ndarray:
    """Model-axes face mesh [468,3] (pixel units) of the largest face in a photo."""
    image = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)
    faces = detect_faces(image)
    if not faces or faces[0].mesh is None:
        raise SystemExit(f"no face mesh in {photo}")
    print(f"  {photo.name}: pose (yaw, pitch, roll) {np.round(faces[0].pose, 1)}")
    return faces[0].mesh * np.array([1.0, -1.0, -1.0])


def closest_surface_points(points: np.ndarray, vertices: np.ndarray, triangles: np.ndarray
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For points [N,3]: triangle id [N], barycentric weights [N,3] and distance [N] of the nearest surface
    point among the triangles around each point's 12 nearest vertices (barycentrics clamped to the
    triangle)."""
    incident: list[list[int]] = [[] for _ in range(len(vertices))]
    for index, corners in enumerate(triangles):
        for corner in corners:
            incident[corner].append(index)
    ids, weights, distances = [], [], []
    used = np.unique(triangles)  # [U] vertices of the given triangles
    for point in points:
        nearest = used[np.argsort(np.linalg.norm(vertices[used] - point, axis=1))[:12]]
        candidates = np.unique(np.concatenate([incident[v] for v in nearest])).astype(np.int64)  # [C]
        corners = vertices[triangles[candidates]]  # [C,3,3]
        e1, e2 = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
        gram = np.stack([np.stack([(e1 * e1).sum(1), (e1 * e2).sum(1)], 1),
                         np.stack([(e1 * e2).sum(1), (e2 * e2).sum(1)], 1)], 1)  # [C,2,2]
        rhs = np.stack([((point - corners[:, 0]) * e1).sum(1), ((point - corners[:, 0]) * e2).sum(1)], 1)
        l1, l2 = np.linalg.solve(gram, rhs[:, :, None])[:, :, 0].T
        bary = np.clip(np.stack([1 - l1 - l2, l1, l2], axis=1), 0, None)
        bary /= bary.sum(axis=1, keepdims=True)  # [C,3]
        on_surface = np.einsum("ck,ckd->cd", bary, corners)  # [C,3]
        distance = np.linalg.norm(on_surface - point, axis=1)
        best = int(np.argmin(distance))
        ids.append(candidates[best])
        weights.append(bary[best])
        distances.append(distance[best])
    return np.asarray(ids), np.asarray(weights), np.asarray(distances)


def triangle_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Unit outward normals [F,3] (FLAME's triangles wind counter-clockwise seen from outside)."""
    corners = vertices[triangles]  # [F,3,3]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    return normals / np.linalg.norm(normals, axis=1, keepdims=True)


def derive(vertices: np.ndarray, triangles: np.ndarray, meshes: list[np.ndarray]) -> dict[str, np.ndarray]:
    inner = np.arange(17, 68)
    flame_ibug = np.einsum("lk,lkd->ld", np.asarray(landmarks.IBUG68_BARYCENTRIC),
                           vertices[triangles[np.asarray(landmarks.IBUG68_TRIANGLES)]])  # [68,3] metres
    aligned = []
    for mesh in meshes:
        scale, rotation, translation = umeyama(mesh[face_mesh_scheme.IBUG68[inner]], flame_ibug[inner])
        aligned.append(scale * mesh @ rotation.T + translation)  # [468,3] metres
        residual = np.linalg.norm(aligned[-1][face_mesh_scheme.IBUG68[inner]] - flame_ibug[inner], axis=1)
        print(f"  similarity residual at the 51 inner points: mean {1000 * residual.mean():.2f} mm, "
              f"max {1000 * residual.max():.2f} mm")
    average = np.mean(aligned, axis=0)  # [468,3]
    scale, rotation, translation = umeyama(average[face_mesh_scheme.IBUG68[inner]], flame_ibug[inner])
    average = scale * average @ rotation.T + translation
    source = average[face_mesh_scheme.IBUG68]  # [68,3]
    residual = np.linalg.norm(source - flame_ibug, axis=1)
    print(f"averaged mesh, similarity residual at the 51 inner points: mean {1000 * residual[inner].mean():.2f} mm, "
          f"max {1000 * residual[inner].max():.2f} mm; at the 17 contour points: mean "
          f"{1000 * residual[:17].mean():.2f} mm, max {1000 * residual[:17].max():.2f} mm")
    warp = RBFInterpolator(source, flame_ibug - source, kernel="thin_plate_spline", smoothing=WARP_SMOOTHING)
    warped = average + warp(average)  # [468,3]
    residual = np.linalg.norm(warped[face_mesh_scheme.IBUG68[inner]] - flame_ibug[inner], axis=1)
    print(f"after the thin-plate-spline warp: mean {1000 * residual.mean():.2f} mm, max {1000 * residual.max():.2f} mm")

    head = triangles[(triangles < HEAD_VERTICES).all(axis=1)]
    head_ids = np.nonzero((triangles < HEAD_VERTICES).all(axis=1))[0]
    local, bary, distance = closest_surface_points(warped, vertices, head)
    triangle = head_ids[local]
    print(f"distance from the warped points to FLAME's surface: median {1000 * np.median(distance):.2f} mm, "
          f"95th percentile {1000 * np.percentile(distance, 95):.2f} mm, max {1000 * distance.max():.2f} mm")
    normal_z = triangle_normals(vertices, triangles)[triangle, 2]  # [468]
    reasons = np.where(distance > MAX_SURFACE_DISTANCE, "off_surface",
                       np.where(normal_z < 0.0, "faces_away", ""))
    kept = reasons == ""
    weight = np.where(np.isin(np.arange(468), FACE_OVAL) | (normal_z < 0.5), SILHOUETTE_WEIGHT, 1.0)
    for reason in ("off_surface", "faces_away"):
        print(f"dropped ({reason}): {np.nonzero(reasons == reason)[0].tolist()}")
    print(f"kept {kept.sum()} of 468 points, {(weight[kept] < 1).sum()} of them at weight {SILHOUETTE_WEIGHT}")
    on_surface = np.einsum("lk,lkd->ld", bary, vertices[triangles[triangle]])
    check = np.linalg.norm(on_surface[face_mesh_scheme.IBUG68[inner]] - flame_ibug[inner], axis=1)
    print(f"dense points at the 51 iBUG places vs the 68 embedding: mean {1000 * check.mean():.2f} mm, "
          f"max {1000 * check.max():.2f} mm")
    dropped = np.nonzero(~kept)[0]
    return {
        "mesh_index": np.nonzero(kept)[0].astype(np.int16),  # [L] MediaPipe vertex observed by each row
        "triangle": triangle[kept].astype(np.int32),  # [L] FLAME triangle
        "barycentric": bary[kept].astype(np.float32),  # [L,3]
        "weight": weight[kept].astype(np.float32),  # [L]
        "dropped": dropped.astype(np.int16),
        "dropped_reason": reasons[dropped].astype("<U12"),
    }


def main(obj_path: Path, photos: list[Path]) -> None:
    vertices, triangles = read_obj(obj_path)
    print(f"face meshes from {len(photos)} photos:")
    meshes = [mesh_of(photo) for photo in photos]
    table = derive(vertices, triangles, meshes)
    np.savez_compressed(OUTPUT, **table)
    print(f"wrote {OUTPUT} ({len(table['mesh_index'])} points)")


if __name__ == "__main__":
    arguments = [Path(argument) for argument in sys.argv[1:]]
    obj = arguments[0] if arguments else FIXTURES / "flame" / "head_template.obj"
    main(obj, arguments[1:] or [FIXTURES / "faces" / name for name in DEFAULT_PHOTOS])
