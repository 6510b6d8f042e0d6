"""The measurement sheet: the photo with every measured distance drawn as a numbered calliper, and a
panel beside it that lists each one with its value, uncertainty and, for a flagged one, why.

Valid measurements are drawn in VALID_COLOUR, flagged ones (``valid`` False) in FLAGGED_COLOUR, the scale
reference (the irises, the card's outline or the user's segment) in SCALE_COLOUR. A distance is a
calliper between its two mesh vertices (``landmark_ids``) as they lie in the photo; the interpupillary
distance runs between the iris centres. Indices and the asymmetry score have no two end points: the panel
lists them without a calliper. Faces measured without a dense mesh (FLAME, landmark estimates) get no
callipers.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import cv2
import numpy as np

from .face import Face

VALID_COLOUR = (40, 170, 60)  # RGB
FLAGGED_COLOUR = (235, 110, 20)
SCALE_COLOUR = (30, 110, 240)
TEXT_COLOUR = (30, 30, 30)
MIN_PHOTO_HEIGHT = 720  # smaller photos are enlarged so the callipers and numbers stay legible
PANEL_WIDTH = 620
LINE_HEIGHT = 20
FONT = cv2.FONT_HERSHEY_SIMPLEX
FONT_SCALE = 0.45
TICK_PX = 6  # half-length of a calliper's end ticks


@dataclass
class Calliper:
    name: str
    label: str
    start: np.ndarray  # [2] image px
    end: np.ndarray  # [2] image px
    valid: bool
    text: str  # value and uncertainty, or the reason it is flagged


def _entry_text(entry: dict) -> str:
    """"value +- uncertainty", followed by the reason when the entry is flagged."""
    if entry.get("value_mm") is not None:
        value = f"{entry['value_mm']:.1f} +- {entry['uncertainty_mm']:.1f} mm"
    elif entry.get("value") is not None:
        value = f"{entry['value']:.1f} +- {entry['uncertainty']:.1f}"
    else:
        value = "not measured"
    return value if entry.get("valid", True) else f"{value}: {entry.get('reason')}"


def face_callipers(face: Face, result: dict) -> list[Calliper]:
    """The callipers of one face's dense-mesh measurement result (``measure_face``): one per distance with
    two end points in the photo, in the result's order."""
    if result.get("method") != "dense_mesh" or face.mesh is None:
        return []
    callipers = []
    for name, entry in result["measurements"].items():
        ids = entry.get("landmark_ids") or []
        if name == "interpupillary_distance" and face.iris is not None and entry.get("value_mm") is not None:
            start, end = face.iris[0, :2], face.iris[1, :2]
        elif len(ids) == 2 and entry.get("value_mm") is not None:
            start, end = face.mesh[ids[0], :2], face.mesh[ids[1], :2]
        else:
            continue
        callipers.append(Calliper(name, entry["label"], np.asarray(start, np.float64), np.asarray(end, np.float64),
                                  bool(entry["valid"]), _entry_text(entry)))
    return callipers


def _draw_calliper(canvas: np.ndarray, calliper: Calliper, number: int, zoom: float) -> None:
    start, end = calliper.start * zoom, calliper.end * zoom
    colour = VALID_COLOUR if calliper.valid else FLAGGED_COLOUR
    direction = end - start
    length = float(np.linalg.norm(direction))
    normal = np.array([-direction[1], direction[0]]) / max(length, 1e-9) * TICK_PX
    for point in (start, end):
        cv2.line(canvas, tuple(np.round(point - normal).astype(int)), tuple(np.round(point + normal).astype(int)),
                 colour, 2, cv2.LINE_AA)
    cv2.line(canvas, tuple(np.round(start).astype(int)), tuple(np.round(end).astype(int)), colour, 2, cv2.LINE_AA)
    middle = tuple(np.round((start + end) / 2 + normal * 1.5).astype(int))
    cv2.putText(canvas, str(number), middle, FONT, FONT_SCALE, colour, 1, cv2.LINE_AA)


def _draw_scale(canvas: np.ndarray, face: Face, scale: dict, zoom: float) -> str:
    """Draws the scale reference of one face; returns its line for the panel."""
    source = scale.get("source")
    if "card_corners" in scale:
        corners = np.round(np.asarray(scale["card_corners"]) * zoom).astype(np.int32)  # [4,2]
        cv2.polylines(canvas, [corners], True, SCALE_COLOUR, 2, cv2.LINE_AA)
        for corner in corners:
            cv2.circle(canvas, tuple(corner), 4, SCALE_COLOUR, -1, cv2.LINE_AA)
    if "segment" in scale:
        start, end = (np.round(np.asarray(point) * zoom).astype(int) for point in scale["segment"])
        cv2.line(canvas, tuple(start), tuple(end), SCALE_COLOUR, 2, cv2.LINE_AA)
    if source in ("iris", "known_ipd") and face.iris is not None:
        for x, y, radius in face.iris:
            cv2.circle(canvas, (int(round(x * zoom)), int(round(y * zoom))), max(int(round(radius * zoom)), 2),
                       SCALE_COLOUR, 1, cv2.LINE_AA)
    line = f"scale: {source}, {scale.get('mm_per_px', 0):.4f} mm/px +- {100 * scale.get('relative_sd', 0):.1f} %"
    if scale.get("warning"):
        line += f" (card not used: {scale['warning']})"
    return line


def draw_measurement_sheet(image: np.ndarray, faces: list[Face], results: list[dict | None]) -> np.ndarray:
    """uint8 [H',W',3] RGB: the photo (uint8 [H,W,3] RGB, enlarged to MIN_PHOTO_HEIGHT when smaller) with
    each face's callipers and scale reference, and the panel listing them. ``results[i]`` is the
    measurement result of ``faces[i]`` (None: not measured)."""
    zoom = max(1.0, MIN_PHOTO_HEIGHT / image.shape[0])
    photo = cv2.resize(image, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC) if zoom > 1 else image.copy()
    lines: list[tuple[str, tuple[int, int, int]]] = []
    for face_number, (face, result) in enumerate(zip(faces, results)):
        if result is None:
            continue
        lines.append((f"face {face_number} ({result.get('method')})", TEXT_COLOUR))
        if "scale" in result:
            lines.append((_draw_scale(photo, face, result["scale"], zoom), SCALE_COLOUR))
        callipers = face_callipers(face, result)
        for number, calliper in enumerate(callipers, start=1):
            _draw_calliper(photo, calliper, number, zoom)
            lines.append((f"{number}. {calliper.label}: {calliper.text}",
                          VALID_COLOUR if calliper.valid else FLAGGED_COLOUR))
        drawn = {calliper.name for calliper in callipers}
        for name, entry in result.get("measurements", {}).items():
            if name not in drawn:
                lines.append((f"-  {entry.get('label', name)}: {_entry_text(entry)}",
                              VALID_COLOUR if entry.get("valid", True) else FLAGGED_COLOUR))
    wrapped = [(part, colour) for text, colour in lines
               for part in textwrap.wrap(text, width=84, subsequent_indent="     ") or [""]]
    height = max(photo.shape[0], (len(wrapped) + 2) * LINE_HEIGHT)
    sheet = np.full((height, photo.shape[1] + PANEL_WIDTH, 3), 255, np.uint8)
    sheet[:photo.shape[0], :photo.shape[1]] = photo
    for row, (text, colour) in enumerate(wrapped, start=1):
        cv2.putText(sheet, text, (photo.shape[1] + 10, row * LINE_HEIGHT), FONT, FONT_SCALE, colour, 1, cv2.LINE_AA)
    return sheet
