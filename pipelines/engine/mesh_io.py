"""Mesh export (OBJ, PLY; GLB through trimesh when it is installed) and the fit preview drawing."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..core.errors import InvalidParameterError

FORMATS = ("obj", "ply", "glb")


def read_obj(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices [V,3] and triangles [F,3] (0-based) of a Wavefront OBJ; faces keep their first three corners."""
    vertices, triangles = [], []
    for line in Path(path).read_text().splitlines():
        if line.startswith("v "):
            vertices.append([float(value) for value in line.split()[1:4]])
        elif line.startswith("f "):
            triangles.append([int(token.split("/")[0]) - 1 for token in line.split()[1:4]])
    return np.asarray(vertices), np.asarray(triangles)


def write_obj(path: Path, vertices: np.ndarray, triangles: np.ndarray,
              comment: str = "PLAYALTER FLAME fit, metres") -> None:
    """vertices [V,3] (units as the comment says), triangles [F,3] 0-based."""
    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in vertices]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in triangles]
    path.write_text(f"# {comment}\n" + "\n".join(lines) + "\n")


def write_ply(path: Path, vertices: np.ndarray, triangles: np.ndarray,
              comment: str = "PLAYALTER FLAME fit, metres") -> None:
    """Binary little-endian PLY."""
    header = (f"ply\nformat binary_little_endian 1.0\ncomment {comment}\n"
              f"element vertex {len(vertices)}\nproperty float x\nproperty float y\nproperty float z\n"
              f"element face {len(triangles)}\nproperty list uchar int vertex_indices\nend_header\n")
    faces = np.zeros(len(triangles), dtype=[("count", "u1"), ("ids", "<i4", (3,))])
    faces["count"] = 3
    faces["ids"] = triangles
    with open(path, "wb") as handle:
        handle.write(header.encode("ascii"))
        handle.write(vertices.astype("<f4").tobytes())
        handle.write(faces.tobytes())


def write_mesh(path: Path, vertices: np.ndarray, triangles: np.ndarray,
               comment: str = "PLAYALTER FLAME fit, metres") -> Path:
    """Write by the file suffix (.obj, .ply, .glb); ``comment`` goes into OBJ and PLY headers."""
    suffix = path.suffix.lower().lstrip(".")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == "obj":
        write_obj(path, vertices, triangles, comment)
    elif suffix == "ply":
        write_ply(path, vertices, triangles, comment)
    elif suffix == "glb":
        try:
            import trimesh
        except ImportError:
            raise InvalidParameterError("GLB export needs the 'trimesh' package (pip install trimesh)") from None
        trimesh.Trimesh(vertices=vertices, faces=triangles, process=False).export(path)
    else:
        raise InvalidParameterError(f"unknown mesh format '{suffix}'; choose one of {', '.join(FORMATS)}")
    return path


def draw_fit(image: np.ndarray, vertices_2d: np.ndarray, vertices: np.ndarray, triangles: np.ndarray,
             landmarks_2d: np.ndarray, observed: np.ndarray | None = None) -> np.ndarray:
    """uint8 RGB [H,W,3] copy of image with the front-facing wireframe (green), the fitted landmarks
    (red) and the observed ones (blue)."""
    canvas = image.copy()
    corners = vertices[triangles]  # [F,3,3] FLAME axes, camera looks down -z
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])  # [F,3]
    to_camera = -corners.mean(axis=1)  # [F,3]
    facing = np.einsum("fc,fc->f", normals, to_camera) > 0
    polygons = np.round(vertices_2d[triangles[facing]]).astype(np.int32)  # [F',3,2]
    overlay = canvas.copy()
    cv2.polylines(overlay, list(polygons), True, (60, 220, 90), 1, cv2.LINE_AA)
    canvas = cv2.addWeighted(overlay, 0.45, canvas, 0.55, 0)
    radius = max(1, int(round(0.004 * max(image.shape[:2]))))
    if observed is not None:
        for x, y in observed[np.isfinite(observed).all(axis=1)]:
            cv2.circle(canvas, (int(round(x)), int(round(y))), radius, (40, 120, 255), -1, cv2.LINE_AA)
    for x, y in landmarks_2d:
        cv2.circle(canvas, (int(round(x)), int(round(y))), radius, (255, 40, 40), -1, cv2.LINE_AA)
    return canvas
