"""Mask geometry adapted to each face.

A face's mask is the UNION of the shapes its data supports:
- the dense MediaPipe mesh (``Face.mesh``, 468 points): its convex hull, which
  follows the real jaw and forehead, with the points above the eyes copied up
  along the face's own chin-to-forehead axis to the hairline (or, widened, to
  the top of the head for ``head`` coverage): the mesh stops at the top of the
  forehead. When the landmark model doubted the face (``mesh_score`` < 0.5),
  or the face is smaller than ``SMALL_FACE`` px (where a mesh hull that
  looked right left faces still recognisable to a detector), the keypoint
  shapes below are added, so an unreliable mesh never shrinks a mask;
- otherwise dense landmarks (``Face.landmarks``, any scheme: 68, 106): their
  convex hull, with the points above the eyes lifted to the hairline (or the
  top of the head for ``head`` coverage);
- a FLAME fit's projected mesh (any object with ``vertices_2d`` [V,2] pixels
  and ``triangles`` [F,3]): every triangle filled;
- with neither, the five keypoints and the box: an ellipse in the face frame
  (oriented along the eye line, scaled by the measured eye distance) united
  with the ellipse inscribed in the detector box.
Optional ears and neck are extra polygons in the face frame.

Coverage ``face_margin`` and ``head`` (whose shape is the whole head) grow
the shape by ``margin`` x face size; the soft edge then ramps from 1 to 0 over
``feather`` x face size outside it, so every pixel inside the shape is fully
masked and every pixel further than grow + feather from it is exactly 0.

Face frame: origin at the eye centre, u along the eye line (image left eye ->
right eye), v perpendicular towards the mouth, both in units of the eye
distance ``d``. Proportions are adult averages (eye distance about 63 mm,
face about 140 x 190 mm, head about 160 x 230 mm).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..core.errors import InvalidParameterError
from ..engine import face_regions
from ..engine.face import Face
from .choices import COVERAGES


_SUBPIXEL_BITS = 4  # cv2.fillConvexPoly fixed-point precision: 1/16 pixel
_ELLIPSE_POINTS = 72

# Ellipses in the face frame: (centre u, centre v, half-width, half-height), units of eye distance.
_FACE_ELLIPSE = (0.0, 0.28, 1.1, 1.58)  # hairline 1.3 d above the eyes, chin 1.86 d below
_HEAD_ELLIPSE = (0.0, -0.2, 1.5, 2.1)  # top of the head 2.3 d above the eyes
_HAIRLINE_LIFT = {"face": 1.0, "face_margin": 1.0, "head": 2.0}  # landmarks above the eyes move up by this x d
_HEAD_WIDEN = 1.3  # head coverage: lifted landmark points spread sideways by this factor
# Mesh points above the eyes are copied up by this x the chin-to-forehead-top vector: the mesh stops about
# 0.2 of that height below the hairline (where the eye-distance lift of 68 points ends on t1.jpg and the
# fixture photos: 0.16-0.27), and the top of the head is about 0.55 above it.
_MESH_LIFT = {"face": 0.2, "face_margin": 0.2, "head": 0.55}
SMALL_FACE = 48.0  # px (face size): below it the mesh hull is united with the keypoint shapes (docs/privacy.md)
_EARS = (0.35, -0.25, 1.0)  # ears: out to 0.35 d beyond the face side, from v=-0.25 to v=1.0
_NECK = (0.8, 0.5, 1.6)  # neck: half-width 0.8 d, from 0.5 d above the chin to 1.6 d below it


@dataclass(frozen=True)
class Shape:
    """How a face's mask is shaped; sizes are fractions of the face size."""

    coverage: str = "face_margin"
    margin: float = 0.2
    feather: float = 0.1
    ears: bool = False
    neck: bool = False

    def __post_init__(self) -> None:
        if self.coverage not in COVERAGES:
            raise InvalidParameterError(f"unknown coverage '{self.coverage}'; choose one of {', '.join(COVERAGES)}")
        if not 0.0 <= self.margin <= 1.0:
            raise InvalidParameterError(f"margin must be from 0 to 1 (fraction of the face size), got {self.margin}")
        if not 0.0 <= self.feather <= 1.0:
            raise InvalidParameterError(f"feather must be from 0 to 1 (fraction of the face size), got {self.feather}")


@dataclass
class FaceMask:
    """A soft mask over a region of interest: alpha [h,w] float32 0..1 whose top-left pixel is (x0, y0)."""

    x0: int
    y0: int
    alpha: np.ndarray
    sources: tuple[str, ...]

    @property
    def region(self) -> tuple[slice, slice]:
        height, width = self.alpha.shape
        return slice(self.y0, self.y0 + height), slice(self.x0, self.x0 + width)


@dataclass(frozen=True)
class FaceFrame:
    origin: np.ndarray  # (2,) eye centre, pixels
    right: np.ndarray  # (2,) unit vector along the eye line
    down: np.ndarray  # (2,) unit vector towards the mouth
    unit: float  # eye distance used as the unit, pixels

    def to_image(self, uv: np.ndarray) -> np.ndarray:
        """[N,2] face-frame points -> [N,2] pixels."""
        return self.origin + self.unit * (uv[:, :1] * self.right + uv[:, 1:2] * self.down)

    def to_frame(self, points: np.ndarray) -> np.ndarray:
        """[N,2] pixels -> [N,2] face-frame points."""
        relative = (np.asarray(points, np.float64) - self.origin) / self.unit
        return np.stack([relative @ self.right, relative @ self.down], axis=1)


def face_frame(face: Face) -> FaceFrame:
    """The face frame from the five keypoints. The unit is the eye distance, but never less than
    what the eye-to-mouth distance and the box imply, so a profile (eyes close together) keeps its size."""
    kps = face.kps.astype(np.float64)  # [5,2]
    eyes = (kps[0] + kps[1]) / 2
    mouth = (kps[3] + kps[4]) / 2
    eye_line = kps[1] - kps[0]
    eye_distance = float(np.linalg.norm(eye_line))
    right = eye_line / eye_distance if eye_distance > 1e-6 else np.array([1.0, 0.0])
    down = np.array([-right[1], right[0]])
    if np.dot(mouth - eyes, down) < 0:
        down = -down
    eye_to_mouth = float(np.linalg.norm(mouth - eyes))
    unit = max(eye_distance, eye_to_mouth / 1.15, 0.3 * face.size, 1.0)
    return FaceFrame(eyes, right, down, unit)


def _ellipse(centre_u: float, centre_v: float, half_u: float, half_v: float) -> np.ndarray:
    """[K,2] face-frame polygon of an ellipse."""
    angles = np.linspace(0.0, 2 * np.pi, _ELLIPSE_POINTS, endpoint=False)
    return np.stack([centre_u + half_u * np.cos(angles), centre_v + half_v * np.sin(angles)], axis=1)


def _box_ellipse(face: Face, coverage: str) -> np.ndarray:
    """[K,2] pixel polygon: the ellipse inscribed in the detector box (taller for head coverage)."""
    centre_x, centre_y = face.center
    half_w, half_h = face.width / 2, face.height / 2
    if coverage == "head":
        centre_y -= 0.2 * face.height
        half_w, half_h = 1.25 * half_w, 1.3 * half_h
    angles = np.linspace(0.0, 2 * np.pi, _ELLIPSE_POINTS, endpoint=False)
    return np.stack([centre_x + half_w * np.cos(angles), centre_y + half_h * np.sin(angles)], axis=1)


def _landmark_hull(face: Face, frame: FaceFrame, coverage: str) -> np.ndarray:
    """[K,2] pixel polygon: hull of the landmarks plus the upper ones lifted to the hairline / head top."""
    uv = frame.to_frame(face.landmarks)  # [N,2]
    upper = uv[uv[:, 1] < 0.0]
    lifted = upper - [0.0, _HAIRLINE_LIFT[coverage]]
    if coverage == "head":
        lifted[:, 0] *= _HEAD_WIDEN
    points = frame.to_image(np.concatenate([uv, lifted]))
    return cv2.convexHull(points.astype(np.float32)).reshape(-1, 2)


def _ears(frame: FaceFrame, side_u: float) -> list[np.ndarray]:
    out, top, bottom = _EARS
    polygons = []
    for sign in (-1.0, 1.0):
        inner, outer = sign * (side_u - 0.1), sign * (side_u + out)
        polygons.append(frame.to_image(np.array([[inner, top], [outer, top], [outer, bottom], [inner, bottom]])))
    return polygons


def _neck(frame: FaceFrame, chin_v: float) -> np.ndarray:
    half, above, below = _NECK
    return frame.to_image(np.array([[-half, chin_v - above], [half, chin_v - above],
                                    [half, chin_v + below], [-half, chin_v + below]]))


def _flame_triangles(fit) -> np.ndarray:
    """[F,3,2] pixel triangles of a FLAME fit's projected mesh."""
    vertices = np.asarray(fit.vertices_2d, np.float64)  # [V,2]
    triangles = np.asarray(fit.triangles, np.int64)  # [F,3]
    if vertices.ndim != 2 or vertices.shape[1] != 2 or triangles.ndim != 2 or triangles.shape[1] != 3:
        raise InvalidParameterError(
            f"a FLAME fit needs vertices_2d [V,2] and triangles [F,3]; got {vertices.shape} and {triangles.shape}"
        )
    return vertices[triangles]


def face_polygons(face: Face, shape: Shape, fit=None) -> tuple[list[np.ndarray], tuple[str, ...]]:
    """Pixel polygons whose union is the face's hard shape, and the names of the sources used."""
    frame = face_frame(face)
    polygons: list[np.ndarray] = []
    sources: list[str] = []
    if face.mesh is not None:
        widen = _HEAD_WIDEN if shape.coverage == "head" else 1.0
        polygons.append(face_regions.mesh_hull(face.mesh, _MESH_LIFT[shape.coverage], widen))
        sources.append("mesh_468")
    elif face.landmarks is not None and len(face.landmarks) >= 5:
        polygons.append(_landmark_hull(face, frame, shape.coverage))
        sources.append(f"landmarks_{face.landmark_scheme or len(face.landmarks)}")
    if fit is not None:
        polygons.extend(_flame_triangles(fit))
        sources.append("flame")
    unreliable_mesh = face.mesh is not None and (not face_regions.has_mesh(face) or face.size < SMALL_FACE)
    if not sources or unreliable_mesh:
        ellipse = _HEAD_ELLIPSE if shape.coverage == "head" else _FACE_ELLIPSE
        polygons.append(frame.to_image(_ellipse(*ellipse)))
        polygons.append(_box_ellipse(face, shape.coverage))
        sources.append("keypoints")
    outline = frame.to_frame(np.concatenate(polygons))  # [M,2]
    if shape.ears:
        polygons.extend(_ears(frame, float(np.abs(outline[:, 0]).max())))
    if shape.neck:
        polygons.append(_neck(frame, float(outline[:, 1].max())))
    return polygons, tuple(sources)


def face_mask(image_shape: tuple[int, ...], face: Face, shape: Shape, fit=None) -> FaceMask | None:
    """The soft mask of one face, cropped to where it is nonzero; None when it lies outside the image."""
    height, width = image_shape[:2]
    polygons, sources = face_polygons(face, shape, fit)
    size = max(face.size, 1.0)
    grow = shape.margin * size if shape.coverage != "face" else 0.0
    feather = shape.feather * size
    reach = int(np.ceil(grow + feather)) + 1
    points = np.concatenate(polygons)  # [M,2]
    x0 = max(int(np.floor(points[:, 0].min())) - reach, 0)
    y0 = max(int(np.floor(points[:, 1].min())) - reach, 0)
    x1 = min(int(np.ceil(points[:, 0].max())) + reach + 1, width)
    y1 = min(int(np.ceil(points[:, 1].max())) + reach + 1, height)
    if x1 <= x0 or y1 <= y0:
        return None
    hard = np.zeros((y1 - y0, x1 - x0), np.uint8)  # [h,w] 255 inside the shape
    fixed = [np.round((polygon - [x0, y0]) * (1 << _SUBPIXEL_BITS)).astype(np.int32) for polygon in polygons]
    for polygon in fixed:  # every polygon is convex; one call each, so overlaps never cancel out
        cv2.fillConvexPoly(hard, polygon, 255, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
    return FaceMask(x0, y0, _soften(hard, grow, feather), sources)


def _soften(hard: np.ndarray, grow: float, feather: float) -> np.ndarray:
    """alpha [h,w]: 1 inside ``hard`` grown by ``grow`` px, smooth ramp to 0 over ``feather`` px beyond."""
    if grow <= 0 and feather <= 0:
        return (hard > 0).astype(np.float32)
    distance = cv2.distanceTransform(255 - hard, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)  # [h,w] px to the shape
    if feather <= 0:
        return (distance <= grow).astype(np.float32)
    ramp = np.clip((grow + feather - distance) / feather, 0.0, 1.0)
    return (ramp * ramp * (3.0 - 2.0 * ramp)).astype(np.float32)  # smoothstep


def union(image_shape: tuple[int, ...], masks: list[FaceMask | None]) -> np.ndarray:
    """Full-image mask [H,W] float32: the per-pixel maximum of the face masks."""
    full = np.zeros(image_shape[:2], np.float32)
    for mask in masks:
        if mask is not None:
            rows, cols = mask.region
            np.maximum(full[rows, cols], mask.alpha, out=full[rows, cols])
    return full
