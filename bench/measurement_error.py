"""The error budget of every face measurement: landmark noise, the scale reference's spread, the pose effect.

    python bench/measurement_error.py [--copies 8] [--json PATH] [--budget tests/data/measurement_error_budget.json]

Photos: the largest face of each photo of ../shared/fixtures/faces (when present; see its NOTICE.md:
test data only), the six faces of insightface's t1.jpg (ordered from the left) and skimage's astronaut.
They are split once, before anything is measured: the faces that can be turned (3. below) and the others
are each taken in name order and dealt alternately to a tuning set (seed 1) and an evaluation set
(seed 2); the astronaut goes to the evaluation set. Choices (the test's margin, any change of a validity
limit) look only at the tuning set; the figures to quote are the evaluation set's.

1. Landmark noise: per face, ``--copies`` perturbed copies (``tests/photo_copies.py``: shift <= 4 px,
   zoom 0.8-1.25, rotation <= 10 deg, mirror, JPEG 60-95, noise SD <= 4) are measured with the copy's
   true image scale given (``{"mm_per_px": original / zoom}``), so only the mesh moves: the spread is the
   SD of each value over the copies where it is valid, relative to its mean; pooled over faces as the root
   mean square. The iris scale's own fit noise is the same spread of the iris mm/px (times the zoom).
   With the copy's own scale (iris, else the interpupillary prior) the spread holds both. On fused frames
   (evaluation set only): per face, four sets of four copies with their own scale, each set fused by
   ``measurement_fusion.fuse_results``; the spread of the four fused values, pooled the same way.
2. Scale spread: the iris (adult white-to-white diameter 11.71 +- 0.42 mm, Rüfer et al. 2005, Cornea
   24:259-261, n = 898), the card (bench/card_scale.py's measured error, docs/measurements.md), a given
   interpupillary distance or segment (their stated tolerances in ``scale_reference``).
3. Pose: near-frontal faces (|yaw|, |pitch| < 15 deg, eye corners >= 60 px apart) are turned in 3D
   (``tests/face_turning.py``: the textured mesh rotated about the head's axes and re-rendered; there are
   no posed real photos with known yaw in the fixtures) by yaw -50..50 and pitch -40..40 deg, and measured
   again with the true scale given; the error is against the unturned render, binned by the true pose of
   the turned mesh. The pose's own share in a bin is what it adds in quadrature to the 0-10 deg bin (which
   holds the landmark noise and the rendering's own error). A limit is judged against the rest of the
   budget (landmark noise and the iris scale): within the limit the pose should add no more than that, and
   beyond it a gated measurement should need the limit. The pipeline reads a rendered turn as smaller
   than it is (printed), so the validity flags on these renders come late; the bins by true pose are what
   a photo whose pose is estimated well would see.
4. Pitch as the validity rules see it: the same faces tilted by every 5 deg from -40 to 40, the error of
   each render against the render the pipeline reads as the most frontal (smallest |estimated pitch|),
   binned by the |estimated pitch| of the render (``face.pose``, what ``face_measurements`` gates on).
   Per measurement, the pose's share is fitted as ``pitch_sd_per_deg`` x |estimated pitch| in quadrature
   with the error of the renders read as within 5 deg (least squares on the squared errors of the renders
   within MAX_PITCH); the rule above then gives the estimated pitch where that share reaches the rest of
   the budget. The tuning set's fit chose ``face_measurements``' per-measurement shares and the lower-face
   limit; the evaluation set's fit and its bins are the figures to quote (printed beside the module's
   values).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT.parent))  # run from a checkout without installing: import playalter from it
sys.path.insert(0, str(ROOT / "tests"))  # the perturbed and turned copies

from face_turning import turn_face, turned_points  # noqa: E402
from photo_copies import perturbed_copy  # noqa: E402
from playalter.pipelines.engine.detection import detect_faces  # noqa: E402
from playalter.pipelines.engine.face_mesh_scheme import to_ibug68  # noqa: E402
from playalter.pipelines.engine.measurement_fusion import fuse_results  # noqa: E402
from playalter.pipelines.engine.pose import pose_from_ibug68  # noqa: E402
from playalter.pipelines.engine.face_measurements import (DISTANCES, MAX_PITCH, MAX_PITCH_LOWER_FACE,  # noqa: E402
                                                          MAX_YAW, MOUTH_OPEN, measure_face)
from playalter.pipelines.engine.metric_face import IRIS_DIAMETER_MM, IRIS_DIAMETER_SD_MM  # noqa: E402
from playalter.pipelines.engine.scale_reference import CENTRE_SD_PX, KNOWN_IPD_SD_MM, SEGMENT_END_SD_PX  # noqa: E402

SEEDS = {"tuning": 1, "evaluation": 2}
YAWS = (-50, -40, -30, -20, -10, 10, 20, 30, 40, 50)
PITCHES = (-40, -30, -20, -10, 10, 20, 30, 40)
POSE_BINS = (0, 10, 20, 25, 30, 40, 90)  # |true angle| bins, degrees
TILTS = tuple(angle for angle in range(-40, 45, 5) if angle)  # applied pitch for the estimated-pitch bins
ESTIMATED_BINS = (0, 5, 10, 15, 20, 25, 30, 90)  # |estimated pitch| bins, degrees
FRONTAL_DEG = 15.0
MIN_EYE_PX_FOR_TURNING = 60.0
CARD_P95_ERROR = 0.0052  # bench/card_scale.py: 95th percentile of a used card's scale error (docs/measurements.md)
CARD_RELATIVE_SD = CARD_P95_ERROR / 1.96
SEGMENT_MM = 85.6  # a segment as long as a card, for the segment row
KNOWN_IPD_MM = 63.0
FUSED_FRAMES = 4  # copies fused into one value
FUSED_GROUPS = 4  # fused values per face whose spread is the fused noise
ABSOLUTE = {"symmetry"}  # a near-zero residual: its spread is in mm, not relative
GATES = {**{item.name: tuple(need for need in ("yaw", "pitch") if need in item.needs) for item in DISTANCES},
         "palpebral_fissure_right": ("yaw",), "palpebral_fissure_left": ("yaw",),  # the far eye
         "interpupillary_distance": ("yaw",), "symmetry": ("yaw",),
         "facial_index": ("yaw", "pitch"), "nasal_index": ("yaw", "pitch")}  # through their parts
MODULE_SHARES = {item.name: item.pitch_sd_per_deg for item in DISTANCES}


def t1_image() -> np.ndarray | None:
    spec = importlib.util.find_spec("insightface")
    if spec is None or spec.origin is None:
        return None
    return read_rgb(Path(spec.origin).parent / "data" / "images" / "t1.jpg")


def read_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def face_sets() -> dict[str, list[tuple[str, np.ndarray, object]]]:
    """{"tuning" | "evaluation": [(name, image, face)]}: the split of the module doc."""
    candidates = []  # (name, image, face)
    folder = ROOT.parent / "shared" / "fixtures" / "faces"
    paths = sorted(p for p in folder.glob("*") if p.suffix in (".jpg", ".png")) if folder.is_dir() else []
    for path in paths:
        image = read_rgb(path)
        faces = [face for face in detect_faces(image) if face.mesh is not None]
        if faces:
            candidates.append((path.name, image, faces[0]))
    t1 = t1_image()
    if t1 is not None:
        faces = sorted((face for face in detect_faces(t1) if face.mesh is not None), key=lambda face: face.bbox[0])
        candidates += [(f"t1.jpg#{index}", t1, face) for index, face in enumerate(faces)]
    sets: dict[str, list] = {"tuning": [], "evaluation": []}
    for group in (False, True):  # alternate within the faces that can be turned and within the others
        members = [candidate for candidate in candidates if turnable(candidate[2]) == group]
        for index, candidate in enumerate(members):
            sets["tuning" if index % 2 == 0 else "evaluation"].append(candidate)
    try:
        from skimage import data
        astronaut = np.ascontiguousarray(data.astronaut())
        sets["evaluation"].append(("astronaut", astronaut, detect_faces(astronaut)[0]))
    except ImportError:
        pass
    return sets


def turnable(face) -> bool:
    """Near-frontal and large enough to be turned (``pose_effect``)."""
    eye_px = float(np.linalg.norm(face.mesh[33, :2] - face.mesh[263, :2]))
    yaw, pitch = face.pose[:2] if face.pose is not None else (90.0, 90.0)
    return max(abs(yaw), abs(pitch)) < FRONTAL_DEG and eye_px >= MIN_EYE_PX_FOR_TURNING


def value(entry: dict) -> float | None:
    return entry.get("value_mm", entry.get("value"))


def landmark_noise(faces: list, copies: int, seed: int) -> tuple[dict, dict, list, dict]:
    """({measurement: [per-face relative SD]} with the true scale given, the same with the copy's own
    scale (iris, else the interpupillary prior), [per-face relative SD of the iris mm/px],
    {measurement: [each copy's relative deviation from the original, true scale]}); mm for ABSOLUTE ones."""
    rng = np.random.default_rng(seed)
    spreads: dict[str, list[float]] = {}
    own_spreads: dict[str, list[float]] = {}
    iris_fit: list[float] = []
    deviations: dict[str, list[float]] = {}
    for name, image, face in faces:
        base = measure_face(face)
        mm_per_px = base["scale"]["mm_per_px"]
        values: dict[str, list[float]] = {}
        own_values: dict[str, list[float]] = {}
        iris_scales = []
        for _ in range(copies):
            copy = perturbed_copy(image, rng)
            found = copy.same_face(face, [f for f in detect_faces(copy.image) if f.mesh is not None])
            if found is None:
                continue
            fixed = measure_face(found, {"mm_per_px": mm_per_px / copy.zoom})["measurements"]
            own = measure_face(found)
            for key in base["measurements"]:
                entry = fixed[copy.name(key)]
                if own["measurements"][copy.name(key)]["valid"]:
                    own_values.setdefault(key, []).append(value(own["measurements"][copy.name(key)]))
                if entry["valid"]:
                    values.setdefault(key, []).append(value(entry))
                    original = base["measurements"][key]
                    if original["valid"]:
                        change = value(entry) - value(original)
                        deviations.setdefault(key, []).append(change if key in ABSOLUTE else change / value(original))
            if own["scale"]["source"] == "iris":
                iris_scales.append(own["scale"]["mm_per_px"] * copy.zoom)
        add_spreads(values, spreads, 4)
        add_spreads(own_values, own_spreads, 4)
        if len(iris_scales) >= 4:
            iris_fit.append(float(np.std(iris_scales, ddof=1) / np.mean(iris_scales)))
    return spreads, own_spreads, iris_fit, deviations


def add_spreads(values: dict[str, list[float]], spreads: dict[str, list[float]], least: int) -> None:
    """Append each measurement's SD over ``values`` (relative to their mean; mm for ABSOLUTE ones) to
    ``spreads`` when it has at least ``least`` values."""
    for key, series in values.items():
        if len(series) >= least:
            spread = float(np.std(series, ddof=1))
            spreads.setdefault(key, []).append(spread if key in ABSOLUTE else spread / float(np.mean(series)))


def fused_noise(faces: list, frames: int, groups: int, seed: int) -> dict:
    """{measurement: [per-face relative SD of the fused value]}: per face, ``groups`` sets of ``frames``
    perturbed copies, each copy measured with its own scale (the iris, as a user's photos would be) and
    each set fused by ``measurement_fusion.fuse_results``; the spread of the fused values between the sets.
    Compare it with the single copies' spread with their own scale."""
    rng = np.random.default_rng(seed)
    spreads: dict[str, list[float]] = {}
    for name, image, face in faces:
        fused_values: dict[str, list[float]] = {}
        for _ in range(groups):
            results = []
            for _ in range(frames):
                copy = perturbed_copy(image, rng)
                found = copy.same_face(face, [f for f in detect_faces(copy.image) if f.mesh is not None])
                if found is None:
                    continue
                result = measure_face(found)
                if copy.mirrored:  # back to the original's sides
                    result["measurements"] = {key: result["measurements"][copy.name(key)]
                                              for key in result["measurements"]}
                results.append(result)
            if len(results) < 2:
                continue
            fused = fuse_results(results, [f"copy {index}" for index in range(len(results))])
            for key, entry in fused["measurements"].items():
                if entry["valid"]:
                    fused_values.setdefault(key, []).append(value(entry))
        add_spreads(fused_values, spreads, 3)
    return spreads


def pose_effect(faces: list) -> tuple[dict, list]:
    """({"yaw" | "pitch": {measurement: {bin of the true angle: [relative error]}}},
    [(name, axis, applied, true, estimated) per render]). The true pose is that of the turned mesh itself
    (``pose.pose_from_ibug68`` on its iBUG-68 subset, as the pipeline computes a face's pose)."""
    errors: dict[str, dict] = {"yaw": {}, "pitch": {}}
    poses = []
    for name, image, face in faces:
        if not turnable(face):
            continue
        base = measure_face(face)
        scale = {"mm_per_px": base["scale"]["mm_per_px"]}
        reference = _turned_measurements(image, face, 0, 0, scale)
        if reference is None:
            continue
        for axis, angles in (("yaw", YAWS), ("pitch", PITCHES)):
            for angle in angles:
                turned = _turned_measurements(image, face, angle if axis == "yaw" else 0,
                                              angle if axis == "pitch" else 0, scale)
                if turned is None:
                    continue
                yaw, pitch = (angle, 0) if axis == "yaw" else (0, angle)
                truth = pose_from_ibug68(to_ibug68(turned_points(face, yaw, pitch)), image.shape[:2])
                true_angle = truth[0] if axis == "yaw" else truth[1]
                poses.append((name, axis, angle, round(true_angle, 1), turned["pose"][axis]))
                bin_index = int(np.searchsorted(POSE_BINS, abs(true_angle), side="right")) - 1
                for key, entry in turned["measurements"].items():
                    before, after = value(reference["measurements"][key]), value(entry)
                    if before is None or after is None:
                        continue
                    error = after - before if key in ABSOLUTE else (after - before) / before
                    errors[axis].setdefault(key, {}).setdefault(bin_index, []).append(float(error))
    return errors, poses


def _turned_measurements(image, face, yaw, pitch, scale) -> dict | None:
    faces = [f for f in detect_faces(turn_face(image, face, yaw, pitch)) if f.mesh is not None]
    centre = np.reshape(face.bbox[:4], (2, 2)).mean(axis=0)
    nearest = min(faces, key=lambda f: np.linalg.norm(np.reshape(f.bbox[:4], (2, 2)).mean(axis=0) - centre),
                  default=None)
    return None if nearest is None else measure_face(nearest, scale)


def pitch_by_estimate(faces: list) -> dict[str, list[tuple[float, float]]]:
    """{measurement: [(|estimated pitch| of a render, its relative error)]} (mm for ABSOLUTE ones): each
    turnable face tilted by TILTS, against its render with the smallest |estimated pitch| (section 4)."""
    errors: dict[str, list[tuple[float, float]]] = {}
    for name, image, face in faces:
        if not turnable(face):
            continue
        scale = {"mm_per_px": measure_face(face)["scale"]["mm_per_px"]}
        renders = [_turned_measurements(image, face, 0, angle, scale) for angle in (0, *TILTS)]
        renders = [render for render in renders if render is not None]
        if len(renders) < 2:
            continue
        reference = min(renders, key=lambda render: abs(render["pose"]["pitch"]))
        for render in renders:
            if render is reference:
                continue
            for key, entry in render["measurements"].items():
                before, after = value(reference["measurements"][key]), value(entry)
                if before is None or after is None:
                    continue
                error = after - before if key in ABSOLUTE else (after - before) / before
                errors.setdefault(key, []).append((abs(render["pose"]["pitch"]), float(error)))
    return errors


def pitch_share(series: list[tuple[float, float]]) -> float | None:
    """The pose's share per degree of estimated pitch: the slope k of E[error^2] = e0^2 + (k |pitch|)^2,
    e0 from the renders read within 5 deg, fitted on the renders within MAX_PITCH (section 4)."""
    pitch, error = np.array(series).reshape(-1, 2).T  # [n], [n]
    frontal = pitch < ESTIMATED_BINS[1]
    inside = pitch <= MAX_PITCH
    if frontal.sum() < 2 or inside.sum() < 4:
        return None
    excess = error[inside] ** 2 - np.mean(error[frontal] ** 2)
    return float(np.sqrt(max(0.0, np.sum(excess * pitch[inside] ** 2) / np.sum(pitch[inside] ** 4))))


def by_estimated_bin(series: list[tuple[float, float]]) -> dict[str, float | None]:
    """RMS error per |estimated pitch| bin."""
    pitch, error = np.array(series).reshape(-1, 2).T
    bins = np.searchsorted(ESTIMATED_BINS, pitch, side="right") - 1  # [n]
    return {f"{ESTIMATED_BINS[i]}-{ESTIMATED_BINS[i + 1]}": rms(error[bins == i])
            for i in range(len(ESTIMATED_BINS) - 1)}


def pitch_row(key: str, series: list[tuple[float, float]], rest: float | None) -> dict:
    """A measurement's section-4 figures; ``rest``: its landmark noise and iris scale (None: not measured)."""
    share = pitch_share(series)
    return {"pose_pitch_estimated": by_estimated_bin(series), "pitch_share_per_deg": share,
            "module_pitch_share_per_deg": MODULE_SHARES.get(key),
            "pitch_limit_by_rule": rest / share if share and rest else None}  # estimated degrees


def rms(values) -> float | None:
    values = list(values)
    return float(np.sqrt(np.mean(np.square(values)))) if values else None


def bin_label(index: int) -> str:
    return f"{POSE_BINS[index]}-{POSE_BINS[index + 1]}"


def limit_bins(limit: float) -> tuple[int, int]:
    """(bin just inside the limit, bin just beyond it)."""
    beyond = int(np.searchsorted(POSE_BINS, limit, side="right")) - 1
    return beyond - 1, beyond


def summarise(faces: list, copies: int, seed: int, fuse: bool) -> dict:
    spreads, own_spreads, iris_fits, deviations = landmark_noise(faces, copies, seed)
    fused = fused_noise(faces, FUSED_FRAMES, FUSED_GROUPS, seed + 100) if fuse else {}
    errors, poses = pose_effect(faces)
    tilted = pitch_by_estimate(faces)
    eye_px = [float(np.linalg.norm(face.mesh[33, :2] - face.mesh[263, :2])) for _, _, face in faces]
    measured = [measure_face(face) for _, _, face in faces]
    mm_per_px = float(np.median([m["scale"]["mm_per_px"] for m in measured]))
    pupil_px = float(np.median([np.linalg.norm(face.iris[1, :2] - face.iris[0, :2]) for _, _, face in faces
                                if face.iris is not None]))
    mouth_mm = float(np.median([value(m["measurements"]["mouth_width"]) for m in measured]))
    face_height_mm = float(np.median([value(m["measurements"]["face_height"]) for m in measured]))
    iris_fit = rms(iris_fits)
    scale = {
        "iris_anatomy": IRIS_DIAMETER_SD_MM / IRIS_DIAMETER_MM,
        "iris_fit": iris_fit,
        "card": CARD_RELATIVE_SD,
        "known_ipd": float(np.hypot(KNOWN_IPD_SD_MM / KNOWN_IPD_MM, np.sqrt(2) * CENTRE_SD_PX / pupil_px)),
        "segment": float(np.sqrt(2) * SEGMENT_END_SD_PX / (SEGMENT_MM / mm_per_px)),
        "mm_per_px": 0.0,
    }
    table = {}
    for key in sorted(set(spreads) | set(errors["yaw"])):
        noise = rms(spreads.get(key, [])) or 0.0
        relative_scale = 0.0 if key in ABSOLUTE or key.endswith("_index") else 1.0
        rest = float(np.sqrt(noise ** 2 + relative_scale * (scale["iris_anatomy"] ** 2 + (iris_fit or 0) ** 2)))
        row = {"landmark_noise": noise, "faces": len(spreads.get(key, [])),
               "own_scale_noise": rms(own_spreads.get(key, [])),
               "fused_noise": rms(fused.get(key, [])),
               "fused_faces": len(fused.get(key, [])), "unit": "mm" if key in ABSOLUTE else
               "relative", "noise_and_iris_scale": rest}
        for axis, limit in (("yaw", MAX_YAW), ("pitch", MAX_PITCH)):
            by_bin = [rms(errors[axis].get(key, {}).get(i, [])) for i in range(len(POSE_BINS) - 1)]
            inside, beyond = limit_bins(limit)
            row[f"pose_{axis}"] = {bin_label(i): by_bin[i] for i in range(len(by_bin))}
            row[f"{axis}_excess_inside"] = excess(by_bin[inside], by_bin[0])
            row[f"{axis}_excess_beyond"] = excess(by_bin[beyond], by_bin[0])
            row[f"{axis}_gated"] = axis in GATES.get(key, ())
            row[f"{axis}_verdict"] = verdict(row[f"{axis}_gated"], row[f"{axis}_excess_inside"],
                                             row[f"{axis}_excess_beyond"], rest)
        row.update(pitch_row(key, tilted.get(key, []), rest))
        at_limits = float(np.hypot(row["yaw_excess_inside"] or 0, row["pitch_excess_inside"] or 0))
        row["pose_at_limits"] = at_limits
        row["combined_iris"] = float(np.hypot(rest, at_limits))
        row["combined_card"] = float(np.sqrt(noise ** 2 + at_limits ** 2 + relative_scale * scale["card"] ** 2))
        table[key] = row
    return {"faces": [name for name, _, _ in faces], "copies": copies, "seed": seed, "scale": scale,
            "median_eye_px": float(np.median(eye_px)), "median_mm_per_px": mm_per_px,
            "mouth_open_limit_mm": MOUTH_OPEN * mouth_mm, "median_face_height_mm": face_height_mm,
            "turned_faces": sorted({name for name, *_ in poses}), "poses": poses,
            "limits": {"yaw": MAX_YAW, "pitch": MAX_PITCH, "pitch_lower_face": MAX_PITCH_LOWER_FACE,
                       "yaw_bins": [bin_label(i) for i in limit_bins(MAX_YAW)],
                       "pitch_bins": [bin_label(i) for i in limit_bins(MAX_PITCH)]},
            "measurements": table, "largest_deviation_in_noise_units": largest_deviation(deviations, table)}


def excess(error: float | None, frontal: float | None) -> float | None:
    """The pose's own share of a bin's RMS error: what it adds in quadrature to the 0-10 deg bin (the
    landmark noise and the rendering's own error)."""
    if error is None or frontal is None:
        return None
    return float(np.sqrt(max(0.0, error ** 2 - frontal ** 2)))


def verdict(gated: bool, inside: float | None, beyond: float | None, rest: float) -> str:
    """The limit against the rest of the budget (landmark noise and the iris scale): within the limit the
    pose should add no more than that; beyond it, a gated measurement should need the limit."""
    if inside is None or beyond is None:
        return "no data"
    if gated:
        if inside > rest:
            return "too loose"
        return "justified" if beyond > rest else "could be looser"
    return "ungated, needs a limit" if beyond > rest else "ungated, fine"


def largest_deviation(deviations: dict, table: dict) -> float:
    """The largest |copy - original| over every copy and measurement, in units of its pooled landmark noise:
    the margin a test comparing single copies with the budget needs (chosen on the tuning set)."""
    ratios = [abs(d) / table[key]["landmark_noise"] for key, series in deviations.items()
              if table.get(key, {}).get("landmark_noise") for d in series]
    return float(max(ratios)) if ratios else 0.0


def percent(x: float | None, unit: str = "relative") -> str:
    if x is None:
        return "-"
    return f"{x:.2f}mm" if unit == "mm" else f"{100 * x:.1f}%"


def print_table(title: str, summary: dict) -> None:
    print(f"\n{title}: {len(summary['faces'])} faces, {summary['copies']} copies each (seed {summary['seed']}); "
          f"{len(summary['turned_faces'])} turned: {', '.join(summary['turned_faces'])}")
    bins = [bin_label(i) for i in range(len(POSE_BINS) - 1)]
    print(f"{'measurement':24s} {'noise':>6s} {'n':>3s} {'+iris':>6s} {'fused':>6s} | RMS error by |true yaw|      "
          + " ".join(f"{b:>6s}" for b in bins) + " | by |true pitch|      " + " ".join(f"{b:>6s}" for b in bins)
          + " | pose@limits  iris  card")
    for key, row in summary["measurements"].items():
        unit = row["unit"]
        print(f"{key:24s} {percent(row['landmark_noise'], unit):>6s} {row['faces']:3d} "
              f"{percent(row['own_scale_noise'], unit):>6s} {percent(row['fused_noise'], unit):>6s} | {'':28s}"
              + " ".join(f"{percent(row['pose_yaw'][b], unit):>6s}" for b in bins) + " | " + f"{'':19s}"
              + " ".join(f"{percent(row['pose_pitch'][b], unit):>6s}" for b in bins)
              + f" | {percent(row['pose_at_limits'], unit):>11s} {percent(row['combined_iris'], unit):>5s} "
              f"{percent(row['combined_card'], unit):>5s}")
    limits = summary["limits"]
    print(f"\nlimits: the pose's excess over the 0-10 bin just inside (yaw {limits['yaw_bins'][0]}, pitch "
          f"{limits['pitch_bins'][0]}) and beyond (yaw {limits['yaw_bins'][1]}, pitch {limits['pitch_bins'][1]}),"
          " against the landmark noise with the iris scale")
    for key, row in summary["measurements"].items():
        unit = row["unit"]
        print(f"{key:24s} rest {percent(row['noise_and_iris_scale'], unit):>6s} | "
              + " | ".join(f"{axis} {percent(row[f'{axis}_excess_inside'], unit):>6s} / "
                           f"{percent(row[f'{axis}_excess_beyond'], unit):>6s} {row[f'{axis}_verdict']:24s}"
                           for axis in ("yaw", "pitch")))
    print_pitch_by_estimate(summary)
    turned = [(true, estimated) for _, _, _, true, estimated in summary["poses"] if abs(true) >= 20]
    ratio = np.median([abs(estimated) / abs(true) for true, estimated in turned]) if turned else float("nan")
    print(f"the pipeline's estimate of a rendered turn of 20 deg or more: {ratio:.2f} of the true angle (median)")
    print("scale spread: " + ", ".join(f"{k} {percent(v)}" for k, v in summary["scale"].items()))
    print(f"largest single-copy deviation: {summary['largest_deviation_in_noise_units']:.1f} x the landmark noise")
    print(f"mouth-open limit: the lip gap at the limit is {summary['mouth_open_limit_mm']:.1f} mm "
          f"({100 * summary['mouth_open_limit_mm'] / summary['median_face_height_mm']:.1f} % of the median face "
          "height)")


def per_degree(x: float | None, unit: str) -> str:
    if x is None:
        return "-"
    return f"{x:.3f}mm" if unit == "mm" else f"{100 * x:.2f}%"


def print_pitch_by_estimate(summary: dict) -> None:
    bins = [f"{ESTIMATED_BINS[i]}-{ESTIMATED_BINS[i + 1]}" for i in range(len(ESTIMATED_BINS) - 1)]
    print(f"\nRMS error by |estimated pitch| (against the render read as most frontal); the pose's share per "
          f"degree fitted here, the module's value, and the estimated pitch where the share reaches the rest")
    print(f"{'measurement':24s} " + " ".join(f"{b:>6s}" for b in bins) + " | share/deg module | limit by rule")
    for key, row in summary["measurements"].items():
        unit, share, module = row["unit"], row["pitch_share_per_deg"], row["module_pitch_share_per_deg"]
        limit = row["pitch_limit_by_rule"]
        print(f"{key:24s} " + " ".join(f"{percent(row['pose_pitch_estimated'][b], unit):>6s}" for b in bins)
              + f" | {per_degree(share, unit):>9s} {per_degree(module, unit):>6s} | "
              + ("-" if limit is None else f"{limit:.1f} deg"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the evaluation and tuning figures here")
    parser.add_argument("--budget", type=Path, help="write what tests/test_measurement_error.py checks here "
                        "(tests/data/measurement_error_budget.json): the evaluation set's landmark noise and the "
                        "tuning set's margin")
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--pitch-only", action="store_true", help="only section 4 (about a minute): the error by "
                        "estimated pitch and the fitted shares")
    args = parser.parse_args()
    sets = face_sets()
    if args.pitch_only:
        for name, faces in sets.items():
            tilted = pitch_by_estimate(faces)
            rows = {key: {"unit": "mm" if key in ABSOLUTE else "relative", **pitch_row(key, series, None)}
                    for key, series in tilted.items()}
            print(f"\n{name.upper()} set")
            print_pitch_by_estimate({"measurements": rows})
        return 0
    summaries = {name: summarise(faces, args.copies, SEEDS[name], fuse=name == "evaluation")
                 for name, faces in sets.items()}
    print_table("TUNING set (choices only; do not quote)", summaries["tuning"])
    print_table("EVALUATION set (the figures to quote)", summaries["evaluation"])
    if args.json:
        args.json.write_text(json.dumps(summaries, indent=1) + "\n")
    if args.budget:
        evaluation, tuning = summaries["evaluation"], summaries["tuning"]
        budget = {"command": f"python bench/measurement_error.py --copies {args.copies} --budget ...",
                  "margin": float(np.ceil(tuning["largest_deviation_in_noise_units"])),
                  "landmark_noise": {key: {"value": round(row["landmark_noise"], 4), "unit": row["unit"]}
                                     for key, row in evaluation["measurements"].items() if row["faces"]}}
        args.budget.write_text(json.dumps(budget, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
