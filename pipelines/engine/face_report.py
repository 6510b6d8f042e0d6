"""The per-face analysis report: what the HTTP API and a saved workflow's JSON give users.

One record per face: box, score, keypoints, pose, the models that produced them,
the landmark model's presence score and, when measured, the measurements in a
uniform shape (value, uncertainty, valid, reason). Heavy parts are left out
unless asked for: the 468 dense landmarks and the metric mesh (the MediaPipe
topology in millimetres, as vertices + triangles or as OBJ text).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.choices import REPORT_MESH_FORMATS
from ..core.errors import InvalidParameterError, NoFaceError
from .face import Face, Faces

MESH_MODEL = "mediapipe_face_mesh"
_LANDMARK_MODELS = {"106": "buffalo_l 2d106det", "68": "buffalo_l 1k3d68"}
_MEASUREMENT_KEYS = ("label", "value_mm", "uncertainty_mm", "value", "uncertainty", "definition", "adult_range_mm",
                     "adult_range", "fusion")


def landmark_model(face: Face) -> str | None:
    """Name of the model that gave the face's dense landmarks (None: the detector's 5 keypoints only)."""
    if face.mesh is not None:
        return MESH_MODEL
    if face.landmarks is None:
        return None
    return _LANDMARK_MODELS.get(face.landmark_scheme or "", face.landmark_scheme)


def _round(array: np.ndarray, digits: int = 2) -> list:
    return np.round(np.asarray(array, dtype=np.float64), digits).tolist()


def _measurements(result: dict) -> dict[str, Any]:
    """One face's measurement result (measure_face, measure_fit or measure_landmarks) -> the report's part."""
    values = {}
    for name, entry in result.get("measurements", {}).items():
        item = {key: entry[key] for key in _MEASUREMENT_KEYS if key in entry}
        item["valid"] = bool(entry.get("valid", True))
        item["reason"] = entry.get("reason")
        values[name] = item
    report = {"method": result.get("method"), "model": result.get("model"), "units": result.get("units", "mm"),
              "values": values}
    scale = result.get("scale")
    if scale is None and "scale_mm_per_px" in result:
        scale = {"mm_per_px": result["scale_mm_per_px"], "source": "interpupillary_prior"}
    if scale is not None:
        report["scale"] = scale
    if result.get("note"):
        report["note"] = result["note"]
    if result.get("fusion"):
        report["fusion"] = result["fusion"]  # fused over several frames: how (measurement_fusion)
    return report


def _mesh(face: Face, mesh_format: str) -> dict[str, Any] | None:
    """The face's metric mesh in ``mesh_format`` (json: vertices + triangles; obj: OBJ text), None without a mesh."""
    if face.mesh is None:
        return None
    from .metric_face import face_mesh_mm

    vertices, triangles = face_mesh_mm(face)  # [468,3] mm, [T,3]
    if mesh_format == "obj":
        lines = [f"v {x:.3f} {y:.3f} {z:.3f}" for x, y, z in vertices]
        lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in triangles]
        return {"format": "obj", "units": "mm", "obj": "# PLAYALTER face mesh, millimetres\n" + "\n".join(lines) + "\n"}
    return {"format": "json", "units": "mm", "vertices": _round(vertices, 3),
            "triangles": np.asarray(triangles, dtype=np.int64).tolist()}


def face_record(face: Face, index: int, image: int = 0, measurement: dict | None = None,
                include_landmarks: bool = False, mesh_format: str = "none") -> dict[str, Any]:
    """The report record of one face (JSON-ready)."""
    record: dict[str, Any] = {
        "image": image, "index": index,
        "box": _round(face.bbox), "score": round(face.score, 4), "keypoints": _round(face.kps),
        "pose": dict(zip(("yaw", "pitch", "roll"), (round(angle, 2) for angle in face.pose)))
        if face.pose is not None else None,
        "models": {"detector": face.detector or None, "landmarks": landmark_model(face)},
        "landmark_score": round(face.mesh_score, 4) if face.mesh_score is not None else None,
    }
    if face.iris is not None:
        record["iris"] = _round(face.iris)
    if face.age is not None or face.sex is not None:
        record["age"], record["sex"] = face.age, face.sex
    if measurement is not None:
        record["measurements"] = _measurements(measurement)
    if include_landmarks and face.mesh is not None:
        record["landmarks"] = _round(face.mesh)  # [468,3] x, y image px, z depth px
    if mesh_format != "none":
        record["mesh"] = _mesh(face, mesh_format)
    return record


def faces_report(faces: Faces, measurements: list[dict] | None = None, include_landmarks: bool = False,
                 mesh_format: str = "none", require_face: bool = False) -> dict[str, Any]:
    """``{"faces": [record, ...]}`` for a FACES batch; ``measurements`` as the Face Measurements node gives
    them (entries with "image" and "face" indices). ``require_face`` raises NoFaceError when there is none."""
    if mesh_format not in REPORT_MESH_FORMATS:
        raise InvalidParameterError(f"mesh format must be one of {', '.join(REPORT_MESH_FORMATS)}, not {mesh_format!r}")
    by_face = {(entry["image"], entry["face"]): entry for entry in measurements or ()}
    records = [
        face_record(face, index, image, by_face.get((image, index)), include_landmarks, mesh_format)
        for image, image_faces in enumerate(faces) for index, face in enumerate(image_faces)
    ]
    if require_face and not records:
        raise NoFaceError("no face was found in the image: use a photo with a clearly visible face")
    return {"faces": records}
