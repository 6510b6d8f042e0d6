"""What turns a face's pixels into millimetres when the user brings a reference, and how far to trust it.

A scale request is one of:
  "iris"                                    the iris diameter (the default; ``metric_face.metric_scale``)
  "card"                                    an ISO/IEC 7810 ID-1 card held flat beside the face, found in
                                            the photo (``card_detection``); not found, or less trustworthy
                                            than the iris (a slanted card), it falls back to the iris
                                            with a warning
  {"ipd_mm": 63.5}                          the subject's known interpupillary distance
  {"mm_per_px": 0.21}                       a known image scale at the face's depth
  {"segment": [[x0, y0], [x1, y1]], "length_mm": 85.6}
                                            a segment drawn on the photo (image px) of a known length

Each gives a ``Scale`` with its source and relative SD:
  known_ipd      the stated value's reading error (KNOWN_IPD_SD_MM) and the placement of the two pupil
                 centres (CENTRE_SD_PX each) over the pupil distance in px
  mm_per_px      0: the stated value is taken as exact (its error is the user's to know)
  segment        the placement of the two end points (SEGMENT_END_SD_PX each) over the segment's length
  card           the card's corner placement and slant (``card_detection.card_fit``)
The reference must lie at the face's depth: a card or segment nearer the camera than the face makes
the face too small by the ratio of the two distances, and that error is not in the SD.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..core.errors import InvalidParameterError
from .card_detection import find_card
from .face import Face
from .metric_face import LEFT_EYE, RIGHT_EYE, Scale

SCALE_NAMES = ("iris", "card")
KNOWN_IPD_SD_MM = 0.5  # a pupillometer or ruler reading, given to the half millimetre
CENTRE_SD_PX = 1.0  # one pupil centre: the iris model's centre, or the eye-corner midpoint without it
SEGMENT_END_SD_PX = 1.0  # one end of a segment the user placed by hand
MAX_COORDINATE_PX = 1e6
MM_PER_PX_RANGE = (1e-3, 10.0)  # a given scale outside it is a typing error (a face 140 mm wide is 14-140000 px)


def _positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value <= 0:
        raise InvalidParameterError(f"scale {name} must be a positive number, not {_excerpt(repr(value))}")
    return float(value)


def _point(value: Any) -> np.ndarray:
    array = np.asarray(value, dtype=object)
    if array.shape != (2,) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in array):
        raise InvalidParameterError(f"scale segment points are [x, y] pixel pairs, not {_excerpt(repr(value))}")
    point = np.asarray(value, dtype=np.float64)
    if not (np.abs(point) <= MAX_COORDINATE_PX).all():  # also refuses inf and nan
        raise InvalidParameterError(f"scale segment points are image pixels within +-{MAX_COORDINATE_PX:g}, "
                                    f"not {_excerpt(repr(value))}")
    return point


def parse_scale(spec: Any) -> str | dict[str, Any]:
    """A validated scale request (see the module doc) from a name, a dict, or the JSON text of either;
    None and "" mean "iris". Anything else is an InvalidParameterError naming what is wrong."""
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return "iris"
    if isinstance(spec, str):
        text = spec.strip()
        if text in SCALE_NAMES:
            return text
        try:
            spec = json.loads(text)
        except json.JSONDecodeError:
            raise InvalidParameterError(
                f"scale must be 'iris', 'card' or a JSON object ({{\"ipd_mm\": 63.5}}, {{\"mm_per_px\": 0.21}}, "
                f"{{\"segment\": [[x0, y0], [x1, y1]], \"length_mm\": 85.6}}), not {_excerpt(text)!r}") from None
        if isinstance(spec, str):
            return parse_scale(spec) if spec in SCALE_NAMES else _unknown(spec)
    if not isinstance(spec, dict):
        return _unknown(spec)
    keys = set(spec)
    if keys == {"ipd_mm"}:
        return {"ipd_mm": _positive(spec["ipd_mm"], "ipd_mm")}
    if keys == {"mm_per_px"}:
        return {"mm_per_px": _positive(spec["mm_per_px"], "mm_per_px")}
    if keys == {"segment", "length_mm"}:
        segment = spec["segment"]
        if not isinstance(segment, (list, tuple)) or len(segment) != 2:
            raise InvalidParameterError(
                f"scale segment is two points [[x0, y0], [x1, y1]], not {_excerpt(repr(segment))}")
        start, end = _point(segment[0]), _point(segment[1])
        if np.linalg.norm(end - start) < 1.0:
            raise InvalidParameterError("scale segment's two points must be at least one pixel apart")
        return {"segment": [start.tolist(), end.tolist()], "length_mm": _positive(spec["length_mm"], "length_mm")}
    return _unknown(spec)


def _excerpt(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _unknown(spec: Any) -> str:
    raise InvalidParameterError(
        "scale must be 'iris', 'card', or an object with exactly one of: ipd_mm; mm_per_px; segment and "
        f"length_mm (got {_excerpt(repr(spec))})")


def pupil_distance_px(face: Face, points: np.ndarray) -> float:
    """Distance in px between the two pupils: the iris centres with their eyes' depth, else the eye-corner
    midpoints, on the mesh [468,3] px."""
    corners = [points[[eye["outer"], eye["inner"]]].mean(axis=0) for eye in (RIGHT_EYE, LEFT_EYE)]  # [3] each
    if face.iris is not None:
        corners = [np.array([face.iris[side, 0], face.iris[side, 1], corners[side][2]], np.float64) for side in (0, 1)]
    return float(np.linalg.norm(corners[1] - corners[0]))


def reference_scale(request: str | dict[str, Any], face: Face, points: np.ndarray, image: np.ndarray | None,
                    iris_scale: Scale) -> Scale:
    """The ``Scale`` a request (from ``parse_scale``) gives this face; ``iris_scale`` is the iris (or prior)
    scale, returned, with a warning, where a card is not found or trusted less."""
    if request == "iris":
        return iris_scale
    if request == "card":
        if image is None:
            raise InvalidParameterError("scale 'card' needs the photo: connect the image to the measurements")
        card = find_card(image, face.bbox)
        if card is None:
            return _fallback(iris_scale, "no ID-1 card (85.60 x 53.98 mm) was found near the face: hold it flat "
                                         "beside the face, all four edges in view, against a contrasting background")
        corners = np.round(card.corners, 2).tolist()
        if card.relative_sd >= iris_scale.relative_sd:
            return _fallback(iris_scale, f"the card is too slanted to trust (its scale is uncertain by "
                                         f"{100 * card.relative_sd:.1f} %, the {iris_scale.source} scale by "
                                         f"{100 * iris_scale.relative_sd:.1f} %): hold it flat, facing the camera",
                             {"card_corners": corners})
        return Scale(card.mm_per_px, "card", card.relative_sd, (), {"card_corners": corners})
    scale = _given_scale(request, face, points)
    low, high = MM_PER_PX_RANGE
    if not low <= scale.mm_per_px <= high:
        raise InvalidParameterError(f"the scale reference gives {scale.mm_per_px:.3g} mm per pixel, outside "
                                    f"{low:g}-{high:g}: check its values")
    return scale


def _given_scale(request: dict[str, Any], face: Face, points: np.ndarray) -> Scale:
    """The scale of a known value: an interpupillary distance, mm/px, or a segment and its length."""
    if "ipd_mm" in request:
        distance = pupil_distance_px(face, points)
        if distance <= 0:
            raise InvalidParameterError("the eye landmarks coincide; cannot scale the face by the pupil distance")
        relative = float(np.hypot(KNOWN_IPD_SD_MM / request["ipd_mm"], np.sqrt(2) * CENTRE_SD_PX / distance))
        return Scale(request["ipd_mm"] / distance, "known_ipd", relative, (), {"ipd_mm": request["ipd_mm"]})
    if "mm_per_px" in request:
        return Scale(request["mm_per_px"], "known_mm_per_px", 0.0, (), {})
    start, end = np.asarray(request["segment"], dtype=np.float64)
    length_px = float(np.linalg.norm(end - start))
    return Scale(request["length_mm"] / length_px, "segment", np.sqrt(2) * SEGMENT_END_SD_PX / length_px, (),
                 {"segment": request["segment"], "length_mm": request["length_mm"]})


def _fallback(iris_scale: Scale, warning: str, detail: dict | None = None) -> Scale:
    return Scale(iris_scale.mm_per_px, iris_scale.source, iris_scale.relative_sd, iris_scale.eyes_used,
                 {**(detail or {}), "requested": "card", "warning": warning})
