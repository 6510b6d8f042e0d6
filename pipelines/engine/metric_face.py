"""Metric 3D face from MediaPipe's dense mesh: scale from the iris, pose-normalised head frame, mesh in mm.

Scale. The horizontal visible iris diameter ("white-to-white") of adults varies little between people:
11.71 +- 0.42 mm (Rüfer, Schröder & Erb 2005, Cornea 24:259-261, n = 898, Orbscan II). The iris model
gives each iris radius in pixels, so mm/px = IRIS_DIAMETER_MM / (2 x radius). An iris is used only when
its eye is open, not foreshortened by a turned head, at least 7 px across, and its diameter is 0.30..0.55 of its eye's
palpebral fissure (adults: ~11.7 / ~30 mm = 0.39); both usable irises are averaged. Without a usable
iris the adult interpupillary distance prior (63 +- 3.8 mm, Dodgson 2004) scales the face instead.

Head frame (all in mm, origin at the nasion vertex 168):
  x  from the subject's right to left (mean of symmetric vertex pairs: canthi, brows, cheeks, alae),
  y  up (from the nose base to the forehead, made orthogonal to x),
  z  out of the face (x cross y; the nose tip has z > 0).
MediaPipe's z is in the same pixel scale as x and y, so one mm/px factor scales all three axes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.errors import InvalidParameterError
from . import face_mesh_scheme
from .face import Face

IRIS_DIAMETER_MM = 11.71  # Rüfer et al. 2005, white-to-white corneal diameter, adults
IRIS_DIAMETER_SD_MM = 0.42
IRIS_FIT_RELATIVE_SD = 0.04  # per eye: the iris model's limbus placement (a fraction of a pixel on 5 px)
MIN_IRIS_RADIUS_PX = 3.5  # smaller irises: a one-pixel limbus error is > 14 % of the scale
IRIS_TO_FISSURE = (0.30, 0.55)  # plausible iris diameter / palpebral fissure length (3D)
EYE_OPEN_MIN = 0.12  # lid gap (159-145 / 386-374) / fissure length below this: the eye is closed
FORESHORTENED = 0.75  # an eye whose 2D fissure is below 0.75 x the other eye's is turned away
IPD_PRIOR_MM = 63.0  # adult mean interpupillary distance (Dodgson 2004: 63.4 mm, SD 3.8 mm, n = 3976)
IPD_PRIOR_SD_MM = 3.8

RIGHT_EYE = {"outer": 33, "inner": 133, "upper": 159, "lower": 145}  # subject's right eye
LEFT_EYE = {"outer": 263, "inner": 362, "upper": 386, "lower": 374}
NASION = 168
FRAME_PAIRS = ((33, 263), (133, 362), (127, 356), (234, 454), (70, 300), (105, 334), (98, 327), (93, 323))
FOREHEAD = (10, 151, 9)
NOSE_BASE = (2,)


@dataclass
class Scale:
    mm_per_px: float
    source: str  # "iris" | "interpupillary_prior" | a reference of ``scale_reference``
    relative_sd: float
    eyes_used: tuple[str, ...]
    detail: dict = field(default_factory=dict)  # the reference itself (card corners, segment, warning)


@dataclass
class MetricFace:
    """One face in the head frame.

    vertices:  [468,3] mm, head frame (x subject's right->left, y up, z out of the face)
    iris:      [2,3] mm, iris centres in the head frame (subject's right, left); depth from the eye corners
    scale:     how pixels became millimetres
    yaw, pitch: degrees of the head frame against the camera (yaw > 0: nose towards image right,
               pitch > 0: face looks up); roll is removed by the frame
    """

    vertices: np.ndarray
    iris: np.ndarray | None
    scale: Scale
    yaw: float
    pitch: float


def require_mesh(face: Face) -> np.ndarray:
    """[468,3] float64 image px mesh of the face, or InvalidParameterError."""
    if face.mesh is None:
        raise InvalidParameterError(
            "this face has no dense mesh: detect faces with dense landmarks (MediaPipe Face Mesh models in "
            "models/mediapipe; `playalter models fetch face_mesh iris`) to measure it in 3D")
    return face.mesh.astype(np.float64)


def eye_openness(points: np.ndarray, eye: dict) -> float:
    """Lid gap / fissure length of one eye on the mesh [468,3]."""
    fissure = np.linalg.norm(points[eye["outer"]] - points[eye["inner"]])
    return float(np.linalg.norm(points[eye["upper"]] - points[eye["lower"]]) / max(fissure, 1e-9))


def mouth_openness(points: np.ndarray) -> float:
    """Inner-lip gap (13-14) / mouth width (61-291) on the mesh [468,3]."""
    width = np.linalg.norm(points[291] - points[61])
    return float(np.linalg.norm(points[13] - points[14]) / max(width, 1e-9))


def far_eye(points: np.ndarray) -> str | None:
    """"right" / "left" when that eye's 2D fissure is foreshortened against the other's, else None."""
    lengths = [np.linalg.norm(points[eye["outer"], :2] - points[eye["inner"], :2]) for eye in (RIGHT_EYE, LEFT_EYE)]
    if lengths[0] < FORESHORTENED * lengths[1]:
        return "right"
    if lengths[1] < FORESHORTENED * lengths[0]:
        return "left"
    return None


def usable_irises(face: Face, points: np.ndarray) -> dict[str, float]:
    """{side: iris radius px} of the irises fit to scale the face."""
    if face.iris is None:
        return {}
    turned_away = far_eye(points)
    usable = {}
    for side, eye, iris in (("right", RIGHT_EYE, face.iris[0]), ("left", LEFT_EYE, face.iris[1])):
        fissure = float(np.linalg.norm(points[eye["outer"]] - points[eye["inner"]]))
        ratio = 2 * float(iris[2]) / max(fissure, 1e-9)
        if side == turned_away or eye_openness(points, eye) < EYE_OPEN_MIN or iris[2] < MIN_IRIS_RADIUS_PX:
            continue
        if IRIS_TO_FISSURE[0] <= ratio <= IRIS_TO_FISSURE[1]:
            usable[side] = float(iris[2])
    return usable


def metric_scale(face: Face, points: np.ndarray) -> Scale:
    """mm per image pixel, from the irises when one is usable, else from the IPD prior."""
    irises = usable_irises(face, points)
    if irises:
        radius = float(np.mean(list(irises.values())))
        relative = float(np.hypot(IRIS_DIAMETER_SD_MM / IRIS_DIAMETER_MM, IRIS_FIT_RELATIVE_SD / np.sqrt(len(irises))))
        return Scale(IRIS_DIAMETER_MM / (2 * radius), "iris", relative, tuple(sorted(irises)))
    eye_centres = [points[[eye["outer"], eye["inner"]]].mean(axis=0) for eye in (RIGHT_EYE, LEFT_EYE)]  # [3] each
    ipd_px = float(np.linalg.norm(eye_centres[1] - eye_centres[0]))
    if ipd_px <= 0:
        raise InvalidParameterError("the eye landmarks coincide; cannot scale the face")
    return Scale(IPD_PRIOR_MM / ipd_px, "interpupillary_prior", IPD_PRIOR_SD_MM / IPD_PRIOR_MM, ())


def head_axes(points: np.ndarray) -> np.ndarray:
    """[3,3] rows x, y, z of the head frame in image axes (x right, y down, z away from the camera)."""
    pairs = np.asarray(FRAME_PAIRS)  # [P,2]
    across = (points[pairs[:, 1]] - points[pairs[:, 0]]).sum(axis=0)  # [3]
    x_axis = across / np.linalg.norm(across)
    up = points[list(FOREHEAD)].mean(axis=0) - points[list(NOSE_BASE)].mean(axis=0)  # [3]
    up = up - (up @ x_axis) * x_axis
    y_axis = up / np.linalg.norm(up)
    return np.stack([x_axis, y_axis, np.cross(x_axis, y_axis)])


def metric_face(face: Face, scale: Scale | None = None) -> MetricFace:
    """The face's mesh in mm in the head frame, with its pose and ``scale`` (default: ``metric_scale``)."""
    points = require_mesh(face)  # [468,3] px
    scale = scale or metric_scale(face, points)
    axes = head_axes(points)  # [3,3]
    origin = points[NASION]
    vertices = (points - origin) @ axes.T * scale.mm_per_px  # [468,3] mm
    iris = None
    if face.iris is not None:
        depth = [points[[eye["outer"], eye["inner"]], 2].mean() for eye in (RIGHT_EYE, LEFT_EYE)]
        centres = np.column_stack([face.iris[:, :2].astype(np.float64), depth])  # [2,3] px
        iris = (centres - origin) @ axes.T * scale.mm_per_px  # [2,3] mm
    outward = axes[2]  # [3] out of the face, image axes
    yaw = float(np.degrees(np.arctan2(outward[0], -outward[2])))
    pitch = float(np.degrees(np.arctan2(-outward[1], np.hypot(outward[0], outward[2]))))
    return MetricFace(vertices, iris, scale, yaw, pitch)


def face_mesh_mm(face: Face) -> tuple[np.ndarray, np.ndarray]:
    """(vertices [468,3] float mm in the head frame, triangles [T,3] int) of a face with a dense mesh."""
    return metric_face(face).vertices, face_mesh_scheme.triangles()
