"""Facial measurements in millimetres: Farkas-style distances on the fitted FLAME head, or a labelled
landmark-only estimate when no FLAME fit is available.

Model measurements use the neutralised mesh (expression, jaw and pose zero) and the anthropometric
points of ``landmarks.ANTHROPOMETRIC_POINTS``. Uncertainty: first-order propagation of the fit's
posterior shape standard deviations through each distance (a sensitivity analysis over the shape
coefficients), plus a 1 mm floor in quadrature for the placement of the points themselves.

Norms (z-scores): adult male / female means and standard deviations, each row citing its source; see
docs/flame.md for the table and the caveats.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from ..core.errors import InvalidParameterError
from ..engine.face import Face
from ..engine.face_measurements import measure_face
from ..engine.metric_face import IPD_PRIOR_MM, IPD_PRIOR_SD_MM
from .landmarks import ANTHROPOMETRIC_POINTS
from .loading import N_VERTICES
from .result import FlameFit
from .schemes import to_ibug68

POINT_FLOOR_MM = 1.0

WEINBERG = "Weinberg et al. 2016, 3D Facial Norms (FaceBase), adults: means as quoted in issue #3"
KOREAN = "J Korean Assoc Maxillofac Plast Reconstr Surg 2019, doi:10.1186/s40902-019-0191-7, Table 9 (adults)"
DODGSON = "Dodgson 2004, Variation and extrema of human interpupillary distance (adults, n = 3976)"


@dataclass(frozen=True)
class Norm:
    male_mean: float
    male_sd: float
    female_mean: float
    female_sd: float
    source: str


@dataclass(frozen=True)
class Definition:
    name: str
    label: str
    points: tuple[str, str]
    definition: str
    norm: Norm | None = None


DEFINITIONS: tuple[Definition, ...] = (
    Definition("outercanthal_width", "Outer-canthal width", ("ex_r", "ex_l"),
               "exocanthion to exocanthion (outer eye corners)",
               Norm(88.9, 3.5, 85.6, 4.9, f"means: {WEINBERG}; SDs: {KOREAN}")),
    Definition("intercanthal_width", "Inner-canthal width", ("en_r", "en_l"),
               "endocanthion to endocanthion (inner eye corners)", Norm(32.2, 1.9, 32.1, 1.4, KOREAN)),
    Definition("interpupillary_distance", "Interpupillary distance", ("pupil_r", "pupil_l"),
               "centre of one pupil to the other (front of the eyeballs)", Norm(64.7, 3.8, 62.3, 3.8, DODGSON)),
    Definition("palpebral_fissure_length", "Palpebral fissure length (left)", ("ex_l", "en_l"),
               "exocanthion to endocanthion of the left eye", Norm(34.0, 3.4, 33.7, 1.5, KOREAN)),
    Definition("face_height", "Face height", ("n", "gn"), "nasion to gnathion (morphological face height)"),
    Definition("bizygomatic_width", "Face width (bizygomatic)", ("zy_r", "zy_l"),
               "zygion to zygion: widest point of the face outline between eye and nose-tip level",
               Norm(137.1, 4.6, 130.1, 3.5, f"means: {WEINBERG}; SDs: {KOREAN}")),
    Definition("bigonial_width", "Jaw width (bigonial)", ("go_r", "go_l"),
               "gonion to gonion: face outline 12 mm below the mouth", Norm(106.6, 5.9, 96.8, 2.9, KOREAN)),
    Definition("bifrontal_width", "Bifrontal width", ("ft_r", "ft_l"),
               "frontotemporale to frontotemporale: the temporal crests 30 mm above the upper lids"),
    Definition("nasal_width", "Nose width (alar)", ("al_r", "al_l"), "alare to alare: the alar-facial grooves",
               Norm(43.2, 3.8, 40.7, 3.7, KOREAN)),
    Definition("nasal_height", "Nose height", ("n", "sn"), "nasion to subnasale", Norm(51.0, 1.9, 47.6, 3.1, KOREAN)),
    Definition("nasal_bridge_length", "Nasal bridge length", ("n", "prn"), "nasion to pronasale (nose tip)"),
    Definition("nasal_protrusion", "Nasal protrusion", ("sn", "prn"), "subnasale to pronasale"),
    Definition("mouth_width", "Mouth width", ("ch_r", "ch_l"), "cheilion to cheilion (mouth corners)",
               Norm(50.1, 3.3, 47.9, 4.0, f"means: {WEINBERG}; SDs: {KOREAN}")),
    Definition("philtrum_length", "Philtrum length", ("sn", "ls"), "subnasale to labiale superius"),
    Definition("upper_vermilion_height", "Upper vermilion height", ("ls", "sto"),
               "labiale superius (most anterior point of the upper lip) to stomion"),
    Definition("lower_vermilion_height", "Lower vermilion height", ("sto", "li"),
               "stomion to labiale inferius (most anterior point of the lower lip)"),
    Definition("upper_face_height", "Upper face height", ("n", "sto"), "nasion to stomion"),
    Definition("lower_face_height", "Lower face height", ("sn", "gn"), "subnasale to gnathion"),
)

# name: (numerator, denominator, definition), values x 100
INDICES = (
    ("facial_index", "face_height", "bizygomatic_width", "face height / face width x 100"),
    ("nasal_index", "nasal_width", "nasal_height", "nose width / nose height x 100"),
    ("intercanthal_index", "intercanthal_width", "outercanthal_width", "inner / outer canthal width x 100"),
    ("mouth_face_width_index", "mouth_width", "bizygomatic_width", "mouth width / face width x 100"),
)


def _point_vertices(name: str, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertex ids [3] and weights [3] of one anthropometric point."""
    element, weights = ANTHROPOMETRIC_POINTS[name]
    ids = np.full(3, element) if name.startswith("pupil") else triangles[element]
    return np.asarray(ids), np.asarray(weights, dtype=np.float64)


def _z(value: float, norm: Norm | None, sex: str | None) -> dict | None:
    if norm is None:
        return None
    scores = {"male": (value - norm.male_mean) / norm.male_sd, "female": (value - norm.female_mean) / norm.female_sd}
    result = {key: round(score, 2) for key, score in scores.items()}
    if sex in ("M", "F"):
        result["own_sex"] = result["male" if sex == "M" else "female"]
    result["source"] = norm.source
    return result


def measure_mesh(neutral_vertices: np.ndarray, triangles: np.ndarray, shape_directions: np.ndarray | None = None,
                 shape_std: np.ndarray | None = None, sex: str | None = None) -> dict:
    """Measurements of a neutral FLAME mesh [5023,3] (metres).

    shape_directions [V,3,S] and shape_std [S], when given, propagate the shape uncertainty."""
    if neutral_vertices.shape != (N_VERTICES, 3):
        raise InvalidParameterError("facial measurements are defined on FLAME topology (5023 vertices) only")
    values: dict[str, dict] = {}
    for item in DEFINITIONS:
        (ids_a, w_a), (ids_b, w_b) = (_point_vertices(name, triangles) for name in item.points)
        a, b = w_a @ neutral_vertices[ids_a], w_b @ neutral_vertices[ids_b]  # [3] each
        distance = float(np.linalg.norm(a - b))
        variance = POINT_FLOOR_MM ** 2
        if shape_directions is not None and shape_std is not None:
            unit = (a - b) / max(distance, 1e-12)  # [3]
            d_points = np.einsum("k,kcs->cs", w_a, shape_directions[ids_a]) - np.einsum(
                "k,kcs->cs", w_b, shape_directions[ids_b])  # [3,S]
            gradient_mm = 1000.0 * unit @ d_points[:, :len(shape_std)]  # [S] mm per unit coefficient
            variance += float(np.sum((gradient_mm * shape_std) ** 2))
        value_mm = 1000.0 * distance
        values[item.name] = {
            "label": item.label, "value_mm": round(value_mm, 2), "uncertainty_mm": round(float(np.sqrt(variance)), 2),
            "definition": item.definition, "landmarks": list(item.points),
            "vertex_ids": [ids.tolist() for ids in (ids_a, ids_b)],
            "z_scores": _z(value_mm, item.norm, sex), "method": "flame_model",
        }
    for name, numerator, denominator, definition in INDICES:
        top, bottom = values[numerator], values[denominator]
        ratio = top["value_mm"] / bottom["value_mm"]
        relative = np.hypot(top["uncertainty_mm"] / top["value_mm"], bottom["uncertainty_mm"] / bottom["value_mm"])
        values[name] = {"label": name.replace("_", " "), "value": round(100 * ratio, 1),
                        "uncertainty": round(100 * ratio * relative, 1), "definition": definition,
                        "method": "flame_model"}
    return values


def measure_fit(fit: FlameFit, sex: str | None = None) -> dict:
    """Measurements of one FLAME fit (neutralised mesh, with shape-uncertainty propagation)."""
    model = fit.linear_model
    directions = model.shape_basis if model is not None else None
    return {"method": "flame_model", "model": fit.model, "units": "mm",
            "measurements": measure_mesh(fit.neutral_vertices, fit.triangles, directions, fit.shape_std, sex)}


DENSE_PAIRS = {  # name: (iBUG index a, iBUG index b), 0-based
    "outercanthal_width": (36, 45), "intercanthal_width": (39, 42), "mouth_width": (48, 54),
    "nasal_width": (31, 35), "face_width_contour": (0, 16), "jaw_width_contour": (4, 12),
    "nasion_to_chin": (27, 8), "nasal_height": (27, 33), "nose_to_mouth": (33, 51),
}


def measure_landmarks(face: Face, scale: str | dict | None = None, image: np.ndarray | None = None) -> dict:
    """Measurements without FLAME. A face with MediaPipe's dense mesh is measured in 3D on its metric mesh
    (``pipelines.face_measurements.measure_face``: iris scale, validity per value). Only a face without
    a mesh gets the old landmark estimate: 2D ratios in mm scaled by an assumed interpupillary distance
    of IPD_PRIOR_MM, labelled ``landmark_estimate``, with wide uncertainty.

    For that estimate, with dense landmarks (68 / 106 / 3D-68) the iBUG pairs of DENSE_PAIRS are
    measured; with only the 5 detector keypoints, mouth width and the eye-to-mouth height. ``scale`` and
    ``image``: the dense mesh's scale reference (``pipelines.engine.scale_reference``)."""
    if face.mesh is not None:
        return measure_face(face, scale, image)
    points, weights = to_ibug68(face)
    dense = face.landmarks is not None or face.landmarks_3d is not None
    if dense:
        right_eye, left_eye = points[36:42].mean(axis=0), points[42:48].mean(axis=0)
    else:
        right_eye, left_eye = face.kps[0].astype(np.float64), face.kps[1].astype(np.float64)
    ipd_px = float(np.linalg.norm(left_eye - right_eye))
    if not np.isfinite(ipd_px) or ipd_px <= 0:
        raise InvalidParameterError("the eye landmarks are missing or coincide; cannot scale measurements")
    segments: dict[str, tuple[np.ndarray, np.ndarray, str]] = {}
    if dense:
        for name, (a, b) in DENSE_PAIRS.items():
            if weights[a] > 0 and weights[b] > 0:
                segments[name] = (points[a], points[b], f"2D distance between iBUG points {a + 1} and {b + 1}")
    else:
        segments["mouth_width"] = (face.kps[3], face.kps[4], "2D distance between the mouth-corner keypoints")
        segments["eye_to_mouth_height"] = ((face.kps[0] + face.kps[1]) / 2, (face.kps[3] + face.kps[4]) / 2,
                                           "2D distance from the eye midpoint to the mouth midpoint")
    values: dict[str, dict] = {"interpupillary_distance": {
        "value_mm": IPD_PRIOR_MM, "uncertainty_mm": IPD_PRIOR_SD_MM, "ratio_to_ipd": 1.0,
        "definition": "assumed adult mean (the scale of every other estimate)", "method": "prior"}}
    spread = float(np.hypot(IPD_PRIOR_SD_MM / IPD_PRIOR_MM, 0.08))  # IPD prior + 8% pose / placement error
    for name, (a, b, definition) in segments.items():
        ratio = float(np.linalg.norm(np.asarray(a, dtype=np.float64) - b)) / ipd_px
        values[name] = {
            "value_mm": round(ratio * IPD_PRIOR_MM, 1), "uncertainty_mm": round(ratio * IPD_PRIOR_MM * spread, 1),
            "ratio_to_ipd": round(ratio, 3), "definition": f"{definition}, scaled by the IPD prior",
            "method": "landmark_estimate",
        }
    return {"method": "landmark_estimate", "units": "mm", "scale_mm_per_px": round(IPD_PRIOR_MM / ipd_px, 4),
            "landmarks": "dense" if dense else "5 keypoints",
            "note": ("estimated from 2D landmarks and an assumed interpupillary distance of "
                     f"{IPD_PRIOR_MM:.0f} mm; not a 3D measurement (install FLAME for model-based values)"),
            "measurements": values}


def measurements_to_json(measurements: list[dict]) -> str:
    return json.dumps(measurements)
