"""How well a source face suits a target face, before swapping.

Each factor gets a score 0..1 (1 = no problem), a measured value and a short
explanation; factors that cannot be measured (no dense landmarks, no age
model, ...) are reported with ``score: null`` and left out of the total. The
total is the weighted mean of the measured factors, 0..100.

| factor      | measured as                                              | score 0 at            |
|-------------|----------------------------------------------------------|-----------------------|
| pose        | yaw/pitch/roll difference (roll counts half: alignment   | 60 degrees            |
|             | undoes most of it); Face.pose or estimated from points    |                       |
| size        | ratio of face sizes, |log10|                               | 10x                   |
| resolution  | smaller face size in pixels                              | (scales to 1 at 112)  |
| skin_tone   | CIE76 delta E of the median LAB of cheeks and nose       | 30                    |
| shape       | FLAME shape RMS difference when fits are given, else      | see ``_shape``        |
|             | proportions of the pose-normalised mesh (face width /    |                       |
|             | height, eye spacing, nose and mouth), else the           |                       |
|             | Procrustes distance of dense landmarks, else 5-point     |                       |
|             | proportions (mouth-eye distance / eye distance, box aspect)|                     |
| expression  | mouth- and eye-opening differences from the mesh, else    | 0.4 mouth, 0.3 eyes   |
|             | the mouth-openness difference (lip landmarks only)        |                       |
| occlusion   | share of each face outline the occlusion test keeps      | 50%                   |
| age_sex     | age difference (0 at 40 years), x0.7 when sexes differ   |                       |
| identity    | ArcFace cosine similarity; reported, not scored (a swap  |                       |
|             | between different people is the point)                   |                       |
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..engine import face_regions, metric_face
from ..engine import pose as head_pose
from ..engine.align import similarity_transform
from ..engine.face import Face
from ..engine.face_proportions import MESH_RATIOS, RATIO_SPREAD, mesh_ratios
from . import identity, landmarks
from .blend import occluder_mask, outline_mask, region, skin_sample_mask

WEIGHTS = {
    "pose": 0.25,
    "size": 0.10,
    "resolution": 0.10,
    "skin_tone": 0.15,
    "shape": 0.15,
    "expression": 0.10,
    "occlusion": 0.10,
    "age_sex": 0.05,
    "identity": 0.0,
}

ADVICE = {
    "pose": "choose a source photo with a head angle closer to the target's",
    "size": "the faces differ a lot in size; crop or resize so they are closer",
    "resolution": "a face is small in pixels; use a higher-resolution photo",
    "skin_tone": "skin tones differ; keep colour correction on (LAB) or pick a closer source",
    "shape": "face shapes differ; the result will keep the target's outline and may look off",
    "expression": "mouth or eye opening differs; pick a source with a similar expression",
    "occlusion": "something covers part of a face; keep occlusion handling on",
    "age_sex": "age or sex differ; the result may look unnatural",
}


def _factor(score: float | None, value, detail: str) -> dict:
    rounded = None if score is None else round(float(np.clip(score, 0.0, 1.0)), 3)
    return {"score": rounded, "value": value, "detail": detail}


def _pose_of(face: Face, image: np.ndarray) -> tuple[float, float, float] | None:
    if face.pose is not None:
        return face.pose
    return head_pose.estimate(face, image.shape[:2])


def _pose(source: Face, source_image: np.ndarray, target: Face, target_image: np.ndarray) -> dict:
    first, second = _pose_of(source, source_image), _pose_of(target, target_image)
    if first is None or second is None:
        return _factor(None, None, "head pose could not be estimated")
    yaw, pitch, roll = (abs(a - b) for a, b in zip(first, second))
    distance = math.sqrt(yaw**2 + pitch**2 + (roll / 2) ** 2)
    value = {"source": [round(angle, 1) for angle in first], "target": [round(angle, 1) for angle in second],
             "difference_degrees": round(distance, 1)}
    return _factor(1 - distance / 60.0, value, f"head pose differs by {distance:.0f} degrees (yaw/pitch/roll)")


def _size(source: Face, target: Face) -> dict:
    ratio = max(source.size, 1.0) / max(target.size, 1.0)
    return _factor(1 - abs(math.log10(ratio)), round(ratio, 3), f"source face is {ratio:.2f}x the target's size")


def _resolution(source: Face, target: Face) -> dict:
    smallest = min(source.size, target.size)
    return _factor(smallest / 112.0, round(smallest, 1), f"smaller face is {smallest:.0f} px across")


def skin_lab(image: np.ndarray, face: Face) -> np.ndarray | None:
    """(3,) median CIELAB colour of the cheeks and nose, or None when the face is too small."""
    x0, y0, x1, y1 = region(face, image.shape, margin=0.0)
    sample = skin_sample_mask(face, x0, y0, (y1 - y0, x1 - x0))
    if sample.sum() < 10:
        return None
    lab = cv2.cvtColor(image[y0:y1, x0:x1].astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)  # [h,w,3]
    return np.median(lab[sample], axis=0)


def _skin_tone(source: Face, source_image: np.ndarray, target: Face, target_image: np.ndarray) -> dict:
    first, second = skin_lab(source_image, source), skin_lab(target_image, target)
    if first is None or second is None:
        return _factor(None, None, "a face is too small to sample its skin")
    delta = float(np.linalg.norm(first - second))
    return _factor(1 - delta / 30.0, round(delta, 2), f"skin tone delta E (CIE76) is {delta:.1f}")


def _flame_shape(face: Face, fit) -> np.ndarray | None:
    if fit is not None:
        shape = fit.get("shape") if isinstance(fit, dict) else getattr(fit, "shape", None)
        return None if shape is None else np.asarray(shape, np.float32).ravel()
    if face.flame is not None and face.flame.get("shape") is not None:
        return np.asarray(face.flame["shape"], np.float32).ravel()
    return None


def _procrustes(first: np.ndarray, second: np.ndarray) -> float:
    """RMS residual of the best similarity fit of ``first`` [N,2] onto ``second`` [N,2], relative to
    ``second``'s RMS radius."""
    matrix = similarity_transform(first, second)  # [2,3]
    fitted = first @ matrix[:, :2].T + matrix[:, 2]  # [N,2]
    radius = np.sqrt(((second - second.mean(0)) ** 2).sum(1).mean())
    return float(np.sqrt(((second - fitted) ** 2).sum(1).mean()) / max(radius, 1e-6))


def _proportions(face: Face) -> np.ndarray:
    """(2,) mouth-to-eyes distance / eye distance, box height / box width."""
    eyes, mouth = face.kps[:2].mean(0), face.kps[3:5].mean(0)
    return np.array([np.linalg.norm(mouth - eyes) / max(face.eye_distance, 1e-6), face.height / max(face.width, 1e-6)])


def mesh_openings(mesh: np.ndarray) -> tuple[float, float]:
    """(mouth, eyes): inner-lip gap / mouth width and mean eyelid gap / eye width of the mesh [468,3]."""
    points = mesh.astype(np.float64)
    eyes = np.mean([metric_face.eye_openness(points, eye) for eye in (metric_face.RIGHT_EYE, metric_face.LEFT_EYE)])
    return metric_face.mouth_openness(points), float(eyes)


def _shape(source: Face, target: Face, source_fit, target_fit) -> dict:
    first, second = _flame_shape(source, source_fit), _flame_shape(target, target_fit)
    if first is not None and second is not None:
        count = min(first.size, second.size)
        rms = float(np.sqrt(np.mean((first[:count] - second[:count]) ** 2)))
        return _factor(1 - rms / 1.5, round(rms, 3), f"FLAME shape parameters differ by {rms:.2f} RMS")
    if face_regions.has_mesh(source) and face_regions.has_mesh(target):
        difference = np.abs(mesh_ratios(source.mesh) - mesh_ratios(target.mesh))  # [6]
        spreads = float(np.mean(difference / RATIO_SPREAD))
        value = {name: round(float(delta), 4) for name, delta in zip(MESH_RATIOS, difference)}
        detail = f"face proportions (pose-normalised mesh) differ by {spreads:.2f} typical between-person spreads"
        return _factor(1 - spreads / 2.5, value, detail)
    dense = (source.landmarks is not None and target.landmarks is not None
             and source.landmark_scheme == target.landmark_scheme
             and len(source.landmarks) == len(target.landmarks))
    if dense:
        distance = _procrustes(source.landmarks, target.landmarks)
        return _factor(1 - distance / 0.25, round(distance, 4),
                       f"landmark geometry differs by {distance:.3f} (Procrustes, unit scale)")
    difference = np.abs(_proportions(source) - _proportions(target))  # [2]
    score = 1 - float(difference.mean()) / 0.3
    return _factor(score, [round(float(value), 3) for value in difference],
                   "face proportions from 5 points (mouth-eye / eye distance, box aspect) differ by "
                   f"{difference[0]:.2f} and {difference[1]:.2f}")


def _expression(source: Face, target: Face) -> dict:
    if face_regions.has_mesh(source) and face_regions.has_mesh(target):
        (mouth_a, eyes_a), (mouth_b, eyes_b) = mesh_openings(source.mesh), mesh_openings(target.mesh)
        mouth, eyes = abs(mouth_a - mouth_b), abs(eyes_a - eyes_b)
        return _factor(1 - max(mouth / 0.4, eyes / 0.3), {"mouth": round(mouth, 3), "eyes": round(eyes, 3)},
                       f"mouth opening differs by {mouth:.2f} and eye opening by {eyes:.2f} (mesh)")
    first, second = landmarks.mouth_openness(source), landmarks.mouth_openness(target)
    if first is None or second is None:
        return _factor(None, None, "mouth openness needs lip landmarks (buffalo_l)")
    delta = abs(first - second)
    return _factor(1 - delta / 0.4, round(delta, 3), f"mouth openness differs by {delta:.2f}")


def occluded_fraction(image: np.ndarray, face: Face) -> float:
    """Share of the face outline the occlusion test flags (0..1)."""
    x0, y0, x1, y1 = region(face, image.shape)
    outline = outline_mask(face, x0, y0, (y1 - y0, x1 - x0))
    if outline.sum() == 0:
        return 0.0
    occluders = occluder_mask(image[y0:y1, x0:x1], face, outline, x0, y0)
    return float((occluders & outline).sum() / outline.sum())


def _occlusion(source: Face, source_image: np.ndarray, target: Face, target_image: np.ndarray) -> dict:
    first, second = occluded_fraction(source_image, source), occluded_fraction(target_image, target)
    worst = max(first, second)
    return _factor(1 - worst / 0.5, {"source": round(first, 3), "target": round(second, 3)},
                   f"occluders cover {first:.0%} of the source face and {second:.0%} of the target face")


def _age_sex(source: Face, target: Face) -> dict:
    if source.age is None or target.age is None:
        return _factor(None, None, "age and sex need the attribute model (buffalo_l)")
    gap = abs(source.age - target.age)
    same_sex = source.sex is None or target.sex is None or source.sex == target.sex
    score = (1 - gap / 40.0) * (1.0 if same_sex else 0.7)
    detail = f"ages differ by {gap:.0f} years" + ("" if same_sex else ", sexes differ")
    return _factor(score, {"age_difference": round(gap, 1), "same_sex": same_sex}, detail)


def _identity(source: Face, source_image: np.ndarray, target: Face, target_image: np.ndarray) -> dict:
    if not (identity.can_embed(source) and identity.can_embed(target)):
        return _factor(None, None, "identity similarity needs ArcFace (buffalo_l)")
    similarity = float(identity.embedding_of(source_image, source) @ identity.embedding_of(target_image, target))
    same = " (likely the same person: the swap will change little)" if similarity > 0.5 else ""
    return {"score": None, "value": round(similarity, 4),
            "detail": f"ArcFace cosine similarity {similarity:.2f}{same}; informative, not scored"}


def recommendation(score: float, factors: dict) -> str:
    if score >= 75:
        verdict = f"Good match ({score:.0f}/100): the swap should look natural."
    elif score >= 50:
        verdict = f"Usable with care ({score:.0f}/100)."
    else:
        verdict = f"Poor match ({score:.0f}/100): expect a visibly artificial result."
    weak = sorted((item["score"], name) for name, item in factors.items()
                  if item["score"] is not None and item["score"] < 0.6 and name in ADVICE)
    advice = [ADVICE[name] for _, name in weak[:3]]
    return verdict + ("" if not advice else " To improve: " + "; ".join(advice) + ".")


def compatibility(source_image: np.ndarray, source: Face, target_image: np.ndarray, target: Face,
                  source_fit=None, target_fit=None) -> dict:
    """{"score": 0..100, "factors": {...}, "recommendation": str} for one source/target pair."""
    factors = {
        "pose": _pose(source, source_image, target, target_image),
        "size": _size(source, target),
        "resolution": _resolution(source, target),
        "skin_tone": _skin_tone(source, source_image, target, target_image),
        "shape": _shape(source, target, source_fit, target_fit),
        "expression": _expression(source, target),
        "occlusion": _occlusion(source, source_image, target, target_image),
        "age_sex": _age_sex(source, target),
        "identity": _identity(source, source_image, target, target_image),
    }
    measured = [(WEIGHTS[name], item["score"]) for name, item in factors.items()
                if item["score"] is not None and WEIGHTS[name] > 0]
    total = 100.0 * sum(weight * score for weight, score in measured) / sum(weight for weight, _ in measured)
    for name, item in factors.items():
        item["weight"] = WEIGHTS[name]
    return {"score": round(total, 1), "factors": factors, "recommendation": recommendation(total, factors)}
