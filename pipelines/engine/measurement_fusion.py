"""One person's measurements fused over several photos or video frames.

Each frame is measured on its own (``face_measurements.measure_face``); then, per measurement:
- frames where it is not valid (head turned or tilted, mouth open, eye closed, outside the adult range)
  are left out of it, and only of it, each with its reason;
- a frame further from the median than OUTLIER_SDS robust spreads is dropped as an outlier (the robust
  spread: 1.4826 x the median absolute deviation, at least the frames' own landmark SD, so near-identical
  frames do not drop each other over a tenth of a millimetre);
- the fused value is the mean of the frames kept, ``spread`` their standard deviation.

What averages out and what does not: a frame's value is off by its landmark placement, its pixels and
its own fit of the scale (the iris outline, a card's corners), which change from frame to frame; the
fused value's ``noise_sd`` is that part over the square root of the frames kept. The scale reference's
own size does not change: the same person's iris is in every photo, so the spread of iris diameters
between adults (SYSTEMATIC_SCALE_SD) is the same error in each frame, and is reported apart as
``scale_sd``. Nor does the head tilt's share of a height (``Measurement.tilt_sd``): it is a bias of the
pose, of one sign for frames taken from one angle, so its mean over the frames kept is reported as
``tilt_sd``, not divided by the square root. The fused ``uncertainty`` is the three in quadrature.

All frames must show one person (``check_one_person``): by the identity model when one can be had,
else by the face's shape. Only scales that hold for the person in every frame can be fused: the iris,
a card held in the frames, or a known interpupillary distance; a segment or a mm-per-px value
describes one photo and is refused. Frames scaled by a weaker source than the best one among them (a
frame where the card was not found fell back to the iris) are left out of every measurement.
See docs/measurements.md (fusion) for the choices and their tuning.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.errors import (DependencyMissingError, InvalidParameterError, ModelDownloadError, ModelMissingError,
                           NoFaceError)
from . import embedding, one_person
from .detection import detect_faces
from .face import Face
from .face_measurements import DISTANCES, measure_face
from .face_proportions import shape_difference
from .metric_face import IPD_PRIOR_MM, IPD_PRIOR_SD_MM, IRIS_DIAMETER_MM, IRIS_DIAMETER_SD_MM
from .scale_reference import KNOWN_IPD_SD_MM, parse_scale

OUTLIER_SDS = 1.5  # the largest limit within 0.05 points of the least error on the tuning set (docs/measurements.md)
SAME_SHAPE_SPREADS = 0.45  # shape fallback: two people above it (midway between the tuning set's groups)
MAX_FRAMES = 64  # more frames add little (the noise part falls as 1 / sqrt(n)) and cost a mesh each
SCALE_PREFERENCE = ("known_ipd", "card", "iris", "interpupillary_prior")  # best first
TILTED = {item.name: item for item in DISTANCES if item.pitch_sd_per_deg}  # the heights the head's tilt changes


@dataclass(frozen=True)
class Frame:
    """One photo or video frame: its uint8 [H,W,3] RGB pixels, the person's face in it, and its name in
    messages ("photo 2", "frame 120")."""

    image: np.ndarray
    face: Face
    name: str


def photo_frame(image: np.ndarray, name: str) -> Frame:
    """One photo to fuse (uint8 [H,W,3] RGB) as a Frame of its largest face, found with its dense mesh;
    NoFaceError naming the photo when it shows none."""
    faces = detect_faces(image, dense=True)
    if not faces:
        raise NoFaceError(f"{name}: no face was found; every photo to fuse must show the person")
    return Frame(image, faces[0], name)


def systematic_scale_sd(scale: dict) -> float:
    """Relative SD of a measured scale (``measure_face``'s "scale") that is the same in every photo of one
    person: the reference's own size, not its placement in the frame."""
    source = scale["source"]
    if source == "iris":
        return IRIS_DIAMETER_SD_MM / IRIS_DIAMETER_MM
    if source == "interpupillary_prior":
        return IPD_PRIOR_SD_MM / IPD_PRIOR_MM
    if source == "known_ipd":
        return KNOWN_IPD_SD_MM / scale["ipd_mm"]
    return 0.0  # a card: ISO/IEC 7810 fixes its size; its corner placement differs per frame


def fusable_scale(spec) -> str | dict:
    """The scale request (``scale_reference.parse_scale``) when it can scale every frame of one person."""
    scale = parse_scale(spec)
    if isinstance(scale, dict) and "ipd_mm" not in scale:
        raise InvalidParameterError("a segment or a mm_per_px scale describes one photo: fused photos are scaled "
                                    "by the iris, a card in each photo, or the person's ipd_mm")
    return scale


def check_one_person(frames: list[Frame], identity_model: str = "auto") -> dict:
    """Refuse frames of different people (InvalidParameterError naming them). The identity model
    (``embedding.resolve_space``) judges when it can be had, else the face's shape proportions; each
    frame is compared with the most typical frame (``one_person.judge``). Returns how it was judged:
    method, threshold, the reference frame and each distance."""
    if len(frames) < 2:
        return {"method": "none", "reference": frames[0].name if frames else None}
    try:
        space = embedding.resolve_space(identity_model)
    except (ModelMissingError, ModelDownloadError, DependencyMissingError):
        if identity_model != "auto":
            raise
        space = None
    if space is not None:
        vectors = [embedding.embed(frame.image, frame.face, space) for frame in frames]
        distances = np.array([[embedding.distance(a, b, space) for b in vectors] for a in vectors])  # [N,N]
        method, threshold, unit = space.name, space.same_person_distance, "identity distance"
    else:
        distances = np.array([[shape_difference(a.face.mesh, b.face.mesh) for b in frames] for a in frames])
        method, threshold, unit = "face_shape", SAME_SHAPE_SPREADS, "shape difference (between-person spreads)"
    typical, to_typical, same = one_person.judge(distances, threshold)
    reference = frames[typical]
    others = [(frame.name, float(to_typical[index])) for index, frame in enumerate(frames) if not same[index]]
    if others:
        listed = ", ".join(f"{name} ({distance:.2f})" for name, distance in others[:5])
        raise InvalidParameterError(
            f"the photos must show one person: {listed} differ from {reference.name} by more than the "
            f"{unit} threshold {threshold:g} ({method}); remove them or measure them apart")
    judged = {"method": method, "threshold": threshold, "reference": reference.name,
              "distances": {frame.name: round(float(to_typical[index]), 3)
                            for index, frame in enumerate(frames)}}
    if space is None:
        judged["note"] = ("no identity model could be had: one person was checked by face shape only, which a "
                          "look-alike can pass (playalter models fetch identity)")
    return judged


def robust_mean(values: np.ndarray, frame_sd: float) -> tuple[float, np.ndarray]:
    """(mean of the kept values, kept mask [N]) of values [N]: a value further from the median than
    OUTLIER_SDS x max(1.4826 x MAD, ``frame_sd``) is dropped."""
    median = float(np.median(values))
    spread = max(1.4826 * float(np.median(np.abs(values - median))), frame_sd)
    kept = np.abs(values - median) <= OUTLIER_SDS * spread  # [N]
    return float(values[kept].mean()), kept


def _fuse_one(entries: list[dict], names: list[str], scale_sd: float, unit: str, tilt_sds: list[float]) -> dict:
    """One measurement's frame entries (``measure_face`` values) -> the fused entry; ``unit`` "_mm" for
    distances, "" for indices (their scale cancels: ``scale_sd`` is ignored); ``tilt_sds``: each frame's
    tilt share of its uncertainty (0 where the tilt does not change the value)."""
    first = entries[0]
    fused = {key: first[key] for key in ("label", "definition", "landmark_ids", f"adult_range{unit}", "range_source")
             if key in first}
    used = [index for index, entry in enumerate(entries) if entry["valid"] and entry[f"value{unit}"] is not None]
    left_out = [{"frame": names[index], "reason": entry["reason"]} for index, entry in enumerate(entries)
                if index not in used]
    if not used:
        reasons = "; ".join(f"{item['frame']}: {item['reason']}" for item in left_out[:3])
        return {**fused, f"value{unit}": None, f"uncertainty{unit}": None, "valid": False,
                "reason": f"no frame allows it ({reasons}{'; ...' if len(left_out) > 3 else ''})",
                "fusion": {"frames": 0, "spread": None, "noise_sd": None, "scale_sd": None, "tilt_sd": None,
                           "outliers": [], "left_out": left_out}}
    values = np.array([entries[index][f"value{unit}"] for index in used], np.float64)  # [n]
    tilts = np.array([tilt_sds[index] for index in used], np.float64)  # [n]
    relative = scale_sd if unit else 0.0
    frame_sds = [np.sqrt(max(entries[index][f"uncertainty{unit}"] ** 2 - (relative * value) ** 2 - tilt ** 2, 0.0))
                 for index, value, tilt in zip(used, values, tilts)]  # each frame's part that changes between frames
    frame_sd = float(np.median(frame_sds))
    value, kept = robust_mean(values, frame_sd)
    count = int(kept.sum())
    spread = float(values[kept].std(ddof=1)) if count > 1 else None
    noise_sd = max(spread or 0.0, frame_sd) / np.sqrt(count)
    systematic = relative * abs(value)
    tilt_sd = float(tilts[kept].mean())
    low, high = fused[f"adult_range{unit}"]
    valid = low <= value <= high
    digits = 2 if unit else 1
    return {**fused, f"value{unit}": round(value, digits),
            f"uncertainty{unit}": round(float(np.sqrt(noise_sd ** 2 + systematic ** 2 + tilt_sd ** 2)), digits),
            "valid": valid,
            "reason": None if valid else (f"the fused value is outside the adult range {low:g}-{high:g}: the mesh "
                                          "or the scale is more likely wrong"),
            "fusion": {"frames": count, "spread": None if spread is None else round(spread, digits),
                       "noise_sd": round(noise_sd, digits), "scale_sd": round(systematic, digits),
                       "tilt_sd": round(tilt_sd, digits),
                       "outliers": [{"frame": names[index], "value": round(float(values[position]), digits)}
                                    for position, index in enumerate(used) if not kept[position]],
                       "left_out": left_out}}


def fuse_results(results: list[dict], names: list[str]) -> dict:
    """``measure_face`` results of one person's frames -> one result of the same shape, each value fused
    (see the module doc) with its ``fusion`` record; frames scaled by a weaker source than the best are
    left out of every value. The first frame with the best scale is the reference frame: the one a
    measurement sheet draws the fused values on."""
    sources = [result["scale"]["source"] for result in results]
    one_photo = sorted(set(sources) - set(SCALE_PREFERENCE))
    if one_photo:
        raise InvalidParameterError(f"results scaled by {', '.join(one_photo)} describe one photo each and cannot "
                                    f"be fused; scale every frame by {', '.join(SCALE_PREFERENCE)}")
    best = min(sources, key=SCALE_PREFERENCE.index)
    weaker = {index for index, source in enumerate(sources) if source != best}
    reference = results[sources.index(best)]
    scale_sd = systematic_scale_sd(reference["scale"])
    measurements = {}
    for key, first in reference["measurements"].items():
        entries = [{**result["measurements"][key], "valid": False,
                    "reason": f"scaled by {sources[index]}, other frames by {best}"}
                   if index in weaker else result["measurements"][key] for index, result in enumerate(results)]
        tilt_sds = [TILTED[key].tilt_sd(entry["value_mm"] or 0.0, result["pose"]["pitch"]) if key in TILTED else 0.0
                    for entry, result in zip(entries, results)]
        measurements[key] = _fuse_one(entries, names, scale_sd, "_mm" if "value_mm" in first else "", tilt_sds)
    scale = {key: value for key, value in reference["scale"].items() if key not in ("warning", "requested")}
    return {
        "method": reference["method"], "model": reference["model"], "units": "mm",
        "scale": {**scale, "relative_sd": round(scale_sd, 4), "frame": names[sources.index(best)],
                  "note": "relative_sd: the reference's own size, the same error in every frame (not averaged "
                          "out); mm_per_px and any card or segment: those of the frame named"},
        "pose": reference["pose"],
        "fusion": {"frames": len(results), "reference_frame": names[sources.index(best)],
                   "estimator": f"mean after dropping frames beyond {OUTLIER_SDS:g} robust SDs of the median",
                   "scale_by_frame": {name: {"source": result["scale"]["source"],
                                             "mm_per_px": result["scale"]["mm_per_px"]}
                                      for name, result in zip(names, results)}},
        "measurements": measurements,
    }


def fuse_frames(frames: list[Frame], scale=None, identity_model: str = "auto") -> dict:
    """The fused measurements of one person's frames (see the module doc): the identity check, each frame
    measured with ``scale``, the values fused. At least one frame, at most MAX_FRAMES."""
    if not frames:
        raise NoFaceError("no frame shows a face with dense landmarks: nothing to measure")
    if len(frames) > MAX_FRAMES:
        raise InvalidParameterError(f"fuse at most {MAX_FRAMES} photos or frames, not {len(frames)}")
    request = fusable_scale(scale)
    for frame in frames:
        if frame.face.mesh is None:
            raise InvalidParameterError(f"{frame.name}: the face has no dense landmarks (too small or too turned "
                                        "for the mesh); remove the photo or use a larger one")
    identity = check_one_person(frames, identity_model)
    results = [measure_face(frame.face, request, frame.image) for frame in frames]
    fused = fuse_results(results, [frame.name for frame in frames])
    fused["fusion"]["identity"] = identity
    warnings = [f"{frame.name}: {result['scale']['warning']}" for frame, result in zip(frames, results)
                if result["scale"].get("warning")]
    if warnings:
        fused["scale"]["warnings"] = warnings
    return fused
