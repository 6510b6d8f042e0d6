"""Facial measurements in millimetres on the pose-normalised metric dense mesh (``metric_face``).

Every value says whether it can be trusted: ``valid`` is False, with a ``reason``, when the photo does
not allow it (head turned or tilted too far, mouth open, eye closed, face too small, the landmark model
doubting the face) or when the value falls outside the documented adult range (then the mesh, the
scale or the photo is more likely wrong than the face). Ranges: the envelope of male and female
mean +- 3 SD of the cited adult norms; see docs/measurements.md for the table.

Uncertainty of a distance: the scale's relative SD (iris, interpupillary prior, or the user's reference:
``scale_reference``) times the value, in
quadrature with the placement error of its two points (POINT_SD_MM each; silhouette points more) and
half a pixel per point in mm (small faces are less precise), and, for the distances the head's tilt
changes, the pose's share: ``pitch_sd_per_deg`` x |estimated pitch| x the value (measured on tilted
renders, docs/measurements.md "Error budget").
Indices (ratios) carry only the placement part: the scale cancels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import face_mesh_scheme
from .face import Face
from .metric_face import (EYE_OPEN_MIN, LEFT_EYE, RIGHT_EYE, MetricFace, eye_openness, far_eye, metric_face,
                          metric_scale, mouth_openness, require_mesh)
from .scale_reference import parse_scale, reference_scale

KOREAN = "J Korean Assoc Maxillofac Plast Reconstr Surg 2019, doi:10.1186/s40902-019-0191-7, Table 9 (adults)"
WEINBERG = "Weinberg et al. 2016, 3D Facial Norms (FaceBase), adult means as quoted in issue #3"
DODGSON = "Dodgson 2004, Variation and extrema of human interpupillary distance (adults, n = 3976)"
MARTIN_SALLER = "Martin & Saller 1957, Lehrbuch der Anthropologie: facial / nasal index classes"

POINT_SD_MM = 1.0  # placement error of one inner mesh vertex (eye corners, nose, lips)
PIXEL_SD = 0.5  # px: the landmark jitter of one point from resampling the photo (added in mm per point)
SILHOUETTE_SD_MM = 2.5  # cheek, jaw and chin outline vertices: the mesh guesses them from shading
MAX_YAW = 30.0  # degrees: beyond it the far half of the mesh is hallucinated
MAX_PITCH = 25.0  # degrees: beyond it vertical distances are foreshortened guesses
MAX_PITCH_LOWER_FACE = 8.0  # degrees of estimated pitch: beyond it the tilt adds more to the philtrum and lower
#                             lip heights than the rest of their error budget (docs/measurements.md)
MOUTH_OPEN = 0.10  # inner-lip gap (13-14) / mouth width above it: the mouth is open
MIN_EYE_DISTANCE_PX = 20.0  # outer-canthal distance below it: too few pixels per feature
SILHOUETTE = {234, 454, 172, 397, 152}


@dataclass(frozen=True)
class Measurement:
    name: str
    label: str
    points: tuple[int, int]
    definition: str
    adult_range: tuple[float, float]
    source: str
    needs: tuple[str, ...]  # conditions it needs: "yaw", "pitch", "pitch_lower_face", "closed_mouth", "right_eye",
    #                         "left_eye"
    pitch_sd_per_deg: float = 0.0  # relative SD the head's tilt adds per degree of estimated pitch

    def tilt_sd(self, value: float, pitch: float) -> float:
        """The head tilt's share of this distance's uncertainty, in the value's unit, at ``pitch`` degrees."""
        return self.pitch_sd_per_deg * abs(pitch) * value


def _envelope(male: tuple[float, float], female: tuple[float, float]) -> tuple[float, float]:
    """(low, high) of male and female mean +- 3 SD."""
    return (round(min(male[0] - 3 * male[1], female[0] - 3 * female[1]), 1),
            round(max(male[0] + 3 * male[1], female[0] + 3 * female[1]), 1))


DISTANCES: tuple[Measurement, ...] = (
    Measurement("face_width", "Face width (bizygomatic)", (234, 454),
                "zygion to zygion: the cheek outline at the zygomatic arches",
                _envelope((137.1, 4.6), (130.1, 3.5)), f"means: {WEINBERG}; SDs: {KOREAN}", ("yaw",)),
    Measurement("face_height", "Face height", (168, 152), "nasion to menton (morphological face height)",
                _envelope((127.4, 5.4), (117.1, 5.4)),
                f"{KOREAN}: female nasion-menton; male as nasal height + lower face height (the table's male "
                "nasion-menton row, 101.8 mm, is inconsistent with its own parts)", ("pitch", "closed_mouth"),
                pitch_sd_per_deg=0.0017),
    Measurement("bigonial_width", "Jaw width (bigonial)", (172, 397), "gonion to gonion: the jaw angles",
                _envelope((106.6, 5.9), (96.8, 2.9)), KOREAN, ("yaw",)),
    Measurement("intercanthal_width", "Inner-canthal width", (133, 362), "endocanthion to endocanthion",
                _envelope((32.2, 1.9), (32.1, 1.4)), KOREAN, ("yaw",)),
    Measurement("biocular_width", "Outer-canthal (biocular) width", (33, 263), "exocanthion to exocanthion",
                _envelope((88.9, 3.5), (85.6, 4.9)), f"means: {WEINBERG}; SDs: {KOREAN}", ("yaw",)),
    Measurement("palpebral_fissure_right", "Palpebral fissure length (right)", (33, 133),
                "exocanthion to endocanthion of the subject's right eye", _envelope((34.0, 3.4), (33.7, 1.5)),
                KOREAN, ("right_eye",)),
    Measurement("palpebral_fissure_left", "Palpebral fissure length (left)", (263, 362),
                "exocanthion to endocanthion of the subject's left eye", _envelope((34.0, 3.4), (33.7, 1.5)),
                KOREAN, ("left_eye",)),
    Measurement("nose_width", "Nose width (alar)", (129, 358), "alare to alare: the most lateral points of the alae",
                _envelope((43.2, 3.8), (40.7, 3.7)), KOREAN, ("yaw",)),
    Measurement("nose_height", "Nose height", (168, 2), "nasion to subnasale", _envelope((51.0, 1.9), (47.6, 3.1)),
                KOREAN, ("pitch",), pitch_sd_per_deg=0.0033),
    Measurement("nasal_bridge_length", "Nasal bridge length", (168, 1), "nasion to pronasale (nose tip)",
                (30.0, 60.0), "no norm in the cited tables: gross-failure bound below the nose-height range "
                "(the bridge is 0.85-0.95 of the nose height on the fixture faces)", ("pitch",),
                pitch_sd_per_deg=0.0025),
    Measurement("mouth_width", "Mouth width", (61, 291), "cheilion to cheilion (mouth corners)",
                _envelope((50.1, 3.3), (47.9, 4.0)), f"means: {WEINBERG}; SDs: {KOREAN}", ("yaw",)),
    Measurement("upper_lip_height", "Upper vermilion height", (0, 13), "labiale superius to stomion",
                (5.0, 18.0), f"widened from {KOREAN} (13.4-13.7 +- 0.9-1.3 mm; its mean - 3 SD would flag "
                "every fixture face, where the mesh measures 7-11 mm): gross-failure bound",
                ("yaw", "pitch", "closed_mouth"), pitch_sd_per_deg=0.0035),
    Measurement("lower_lip_height", "Lower vermilion height", (14, 17), "stomion to labiale inferius",
                (5.0, 18.0), f"widened from {KOREAN} (13.6-13.8 +- 0.9-1.0 mm): gross-failure bound",
                ("yaw", "pitch", "pitch_lower_face", "closed_mouth"), pitch_sd_per_deg=0.0048),
    Measurement("philtrum_length", "Philtrum length", (2, 0), "subnasale to labiale superius",
                _envelope((15.5, 1.3), (13.5, 1.6)), KOREAN, ("yaw", "pitch", "pitch_lower_face", "closed_mouth"),
                pitch_sd_per_deg=0.0050),
    Measurement("chin_height", "Chin height", (18, 152), "sublabiale (labiomental fold) to menton",
                _envelope((36.5, 3.1), (34.1, 3.2)), KOREAN, ("yaw", "pitch", "closed_mouth"), pitch_sd_per_deg=0.0080),
)
IPD_RANGE = _envelope((64.7, 3.8), (62.3, 3.8))
INDICES = (  # name, label, numerator, denominator, range, source
    ("facial_index", "Facial index", "face_height", "face_width", (65.0, 110.0),
     f"{MARTIN_SALLER}: hypereuryprosopic < 80 .. hyperleptoprosopic >= 95, +- 15 beyond the class edges"),
    ("nasal_index", "Nasal index", "nose_width", "nose_height", (55.0, 115.0),
     f"{MARTIN_SALLER}: leptorrhine < 70 .. hyperplatyrrhine >= 100, +- 15 beyond the class edges"),
)
SYMMETRY_RANGE = (0.0, 6.0)


def _point_sd(vertex: int) -> float:
    return SILHOUETTE_SD_MM if vertex in SILHOUETTE else POINT_SD_MM


def _blockers(face: Face, metric: MetricFace, points_px: np.ndarray) -> tuple[str | None, dict[str, str]]:
    """(reason that invalidates everything, {need: reason} for the conditions that fail)."""
    eye_px = float(np.linalg.norm(points_px[LEFT_EYE["outer"], :2] - points_px[RIGHT_EYE["outer"], :2]))
    if face.mesh_score is not None and face.mesh_score < 0.5:
        return f"the landmark model doubts this is a face (presence {face.mesh_score:.2f} < 0.5)", {}
    if eye_px < MIN_EYE_DISTANCE_PX:
        return f"face too small (eye corners {eye_px:.0f} px apart < {MIN_EYE_DISTANCE_PX:.0f} px)", {}
    yaw, pitch = _pose(face, metric)
    if metric.scale.source == "interpupillary_prior" and abs(yaw) > MAX_YAW:
        return (f"no usable iris and the head is turned (yaw {yaw:+.0f} deg): the interpupillary prior "
                "cannot scale a turned face"), {}
    failing: dict[str, str] = {}
    turned = f"head turned too far (yaw {yaw:+.0f} deg, limit +-{MAX_YAW:.0f}): the far side is guessed"
    if abs(yaw) > MAX_YAW:
        failing["yaw"] = turned
        hidden = far_eye(points_px)
        if hidden is not None:
            failing[f"{hidden}_eye"] = turned
    if abs(pitch) > MAX_PITCH:
        failing["pitch"] = f"head tilted too far (pitch {pitch:+.0f} deg, limit +-{MAX_PITCH:.0f})"
    if abs(pitch) > MAX_PITCH_LOWER_FACE:
        failing["pitch_lower_face"] = (f"head tilted too far for the lower-face heights (pitch {pitch:+.0f} deg, "
                                       f"limit +-{MAX_PITCH_LOWER_FACE:.0f})")
    gap = mouth_openness(points_px)
    if gap > MOUTH_OPEN:
        failing["closed_mouth"] = f"mouth open (lip gap {gap:.2f} of the mouth width > {MOUTH_OPEN})"
    for side, eye in (("right", RIGHT_EYE), ("left", LEFT_EYE)):
        openness = eye_openness(points_px, eye)
        if openness < EYE_OPEN_MIN:
            failing.setdefault(f"{side}_eye", f"{side} eye closed (lid gap {openness:.2f} of its width)")
    return None, failing


def _pose(face: Face, metric: MetricFace) -> tuple[float, float]:
    """(yaw, pitch) degrees: the face's estimated pose when it has one, else the mesh's own frame."""
    if face.pose is not None:
        return face.pose[0], face.pose[1]
    return metric.yaw, metric.pitch


def _verdict(value: float, adult_range: tuple[float, float], needs: tuple[str, ...], everything: str | None,
             failing: dict[str, str], unit: str) -> tuple[bool, str | None]:
    if everything is not None:
        return False, everything
    for need in needs:
        if need in failing:
            return False, failing[need]
    low, high = adult_range
    if not low <= value <= high:
        return False, f"outside the adult range {low:g}-{high:g}{unit}: the mesh or the scale is more likely wrong"
    return True, None


def measure_face(face: Face, scale: str | dict | None = None, image: np.ndarray | None = None) -> dict:
    """Measurements of a face with a dense mesh (InvalidParameterError without one); see the module doc.
    ``scale``: the scale request (``scale_reference``; default the iris); ``image`` (uint8 [H,W,3] RGB)
    is needed only to find a card."""
    points_px = require_mesh(face)  # [468,3]
    iris_scale = metric_scale(face, points_px)
    metric = metric_face(face, reference_scale(parse_scale(scale), face, points_px, image, iris_scale))
    vertices = metric.vertices  # [468,3] mm
    everything, failing = _blockers(face, metric, points_px)
    relative = metric.scale.relative_sd
    pitch = abs(_pose(face, metric)[1])
    values: dict[str, dict] = {}
    for item in DISTANCES:
        a, b = item.points
        value = float(np.linalg.norm(vertices[a] - vertices[b]))
        pixel = PIXEL_SD * metric.scale.mm_per_px  # mm: the image's resolution limit per point
        tilt = item.tilt_sd(value, pitch)  # mm: the pose's share
        sd = float(np.sqrt((relative * value) ** 2 + _point_sd(a) ** 2 + _point_sd(b) ** 2 + 2 * pixel ** 2
                           + tilt ** 2))
        valid, reason = _verdict(value, item.adult_range, item.needs, everything, failing, " mm")
        values[item.name] = {
            "label": item.label, "value_mm": round(value, 2), "uncertainty_mm": round(sd, 2), "valid": valid,
            "reason": reason, "definition": item.definition, "landmark_ids": [a, b],
            "adult_range_mm": list(item.adult_range), "range_source": item.source,
        }
    values["interpupillary_distance"] = _interpupillary(metric, everything, failing)
    for name, label, top, bottom, adult_range, source in INDICES:
        numerator, denominator = values[top], values[bottom]
        ratio = 100 * numerator["value_mm"] / denominator["value_mm"]
        placement = [np.hypot(_point_sd(a), _point_sd(b)) / values[key]["value_mm"]
                     for key, (a, b) in ((top, numerator["landmark_ids"]), (bottom, denominator["landmark_ids"]))]
        valid, reason = _verdict(ratio, adult_range, (), everything, failing, "")
        if valid and not (numerator["valid"] and denominator["valid"]):
            valid, reason = False, f"needs a valid {top if not numerator['valid'] else bottom}"
        values[name] = {
            "label": label, "value": round(ratio, 1), "uncertainty": round(ratio * float(np.hypot(*placement)), 1),
            "valid": valid, "reason": reason, "definition": f"{top} / {bottom} x 100",
            "landmark_ids": numerator["landmark_ids"] + denominator["landmark_ids"],
            "adult_range": list(adult_range), "range_source": source,
        }
    values["symmetry"] = _symmetry(vertices, everything, failing)
    return {
        "method": "dense_mesh", "model": "mediapipe_face_mesh", "units": "mm",
        "scale": {"mm_per_px": round(metric.scale.mm_per_px, 5), "source": metric.scale.source,
                  "relative_sd": round(metric.scale.relative_sd, 4), **metric.scale.detail},
        "pose": {"yaw": round(_pose(face, metric)[0], 1), "pitch": round(_pose(face, metric)[1], 1)},
        "measurements": values,
    }


def _interpupillary(metric: MetricFace, everything: str | None, failing: dict[str, str]) -> dict:
    entry = {"label": "Interpupillary distance", "definition": "iris centre to iris centre (the scale comes "
             "from the iris diameter, so this is a measurement, not the prior)", "landmark_ids": [],
             "adult_range_mm": list(IPD_RANGE), "range_source": DODGSON}
    if metric.iris is None:
        return {**entry, "value_mm": None, "uncertainty_mm": None, "valid": False, "reason": "no iris landmarks"}
    value = float(np.linalg.norm(metric.iris[1] - metric.iris[0]))
    sd = float(np.sqrt((metric.scale.relative_sd * value) ** 2 + 2 * POINT_SD_MM ** 2))
    valid, reason = _verdict(value, IPD_RANGE, ("yaw", "right_eye", "left_eye"), everything, failing, " mm")
    if valid and metric.scale.source == "interpupillary_prior":
        valid, reason = False, "no usable iris: the distance would only restate the interpupillary prior"
    if valid and metric.scale.source == "known_ipd":
        valid, reason = False, "the scale is the given interpupillary distance: this only restates it"
    return {**entry, "value_mm": round(value, 2), "uncertainty_mm": round(sd, 2), "valid": valid, "reason": reason}


def _symmetry(vertices: np.ndarray, everything: str | None, failing: dict[str, str]) -> dict:
    """Mean distance (mm) between each vertex and its mirror partner reflected across the mid-plane x = m."""
    mirror = face_mesh_scheme.mirror_pairs()  # [468]
    midline = mirror == np.arange(len(mirror))
    plane_x = float(vertices[midline, 0].mean())
    reflected = vertices[mirror].copy()  # [468,3]
    reflected[:, 0] = 2 * plane_x - reflected[:, 0]
    value = float(np.linalg.norm(vertices - reflected, axis=1).mean())
    valid, reason = _verdict(value, SYMMETRY_RANGE, ("yaw",), everything, failing, " mm")
    return {"label": "Left/right asymmetry", "value_mm": round(value, 2), "uncertainty_mm": round(POINT_SD_MM, 2),
            "valid": valid, "reason": reason, "landmark_ids": [],
            "definition": "mean distance between each vertex and its mirror partner reflected across the "
                          "mid-plane (0 = perfectly symmetric)",
            "adult_range_mm": list(SYMMETRY_RANGE),
            "range_source": "not an anthropometric norm: above 6 mm the two mesh halves disagree grossly"}
