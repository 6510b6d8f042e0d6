"""The measurement sheet: the photo with every measured distance drawn as a numbered calliper, a frontal
and a profile view of each face's mesh in its head frame with the same callipers, and a panel that lists
each one with its value, uncertainty and, for a flagged one, why.

Valid measurements are drawn in VALID_COLOUR, flagged ones (``valid`` False) in FLAGGED_COLOUR, the scale
reference (the irises, the card's outline or the user's segment) in SCALE_COLOUR. A distance is a
calliper between its two mesh vertices (``landmark_ids``) as they lie in the photo; the interpupillary distance runs
between the iris centres (on the photo only: the views have no iris vertex). Indices and the asymmetry score have no
two end points: the panel lists them without a calliper. The views are orthographic, each fitted to its square (their
size in mm is in the panel, not in the drawing). Faces measured without a dense mesh (FLAME, landmark estimates) get
no callipers.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import cv2
import numpy as np

from . import face_mesh_scheme
from .face import Face
from .metric_face import NASION, head_axes

VALID_COLOUR = (40, 170, 60)  # RGB
FLAGGED_COLOUR = (235, 110, 20)
SCALE_COLOUR = (30, 110, 240)
TEXT_COLOUR = (30, 30, 30)
MIN_PHOTO_HEIGHT = 720  # smaller photos are enlarged so the callipers and numbers stay legible
PANEL_WIDTH = 620
VIEW_SIDE = 360  # px: each mesh view's square
MESH_COLOUR = (200, 200, 200)
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
    vertices: tuple[int, int] | None  # its two mesh vertices (None: the iris centres)


def _entry_text(entry: dict) -> str:
    """"value +- uncertainty", followed by the reason when the entry is flagged."""
    if entry.get("value_mm") is not None:
        value = f"{entry['value_mm']:.1f} +- {entry['uncertainty_mm']:.1f} mm"
    elif entry.get("value") is not None:
        value = f"{entry['value']:.1f} +- {entry['uncertainty']:.1f}"
    else:
        value = "not measured"
    fusion = entry.get("fusion")
    if fusion and fusion["frames"]:  # fused over several frames (measurement_fusion)
        spread = "" if fusion["spread"] is None else f", spread {fusion['spread']:.1f}"
        value += f" (n = {fusion['frames']}{spread})"
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
            start, end, vertices = face.iris[0, :2], face.iris[1, :2], None
        elif len(ids) == 2 and entry.get("value_mm") is not None:
            start, end, vertices = face.mesh[ids[0], :2], face.mesh[ids[1], :2], (ids[0], ids[1])
        else:
            continue
        callipers.append(Calliper(name, entry["label"], np.asarray(start, np.float64), np.asarray(end, np.float64),
                                  bool(entry["valid"]), _entry_text(entry), vertices))
    return callipers


def _draw_calliper(canvas: np.ndarray, start: np.ndarray, end: np.ndarray, valid: bool, number: int) -> None:
    """A calliper from ``start`` to ``end`` ([2] canvas px) with end ticks and its number."""
    colour = VALID_COLOUR if valid else FLAGGED_COLOUR
    direction = end - start
    length = float(np.linalg.norm(direction))
    normal = np.array([-direction[1], direction[0]]) / max(length, 1e-9) * TICK_PX
    for point in (start, end):
        cv2.line(canvas, tuple(np.round(point - normal).astype(int)), tuple(np.round(point + normal).astype(int)),
                 colour, 2, cv2.LINE_AA)
    cv2.line(canvas, tuple(np.round(start).astype(int)), tuple(np.round(end).astype(int)), colour, 2, cv2.LINE_AA)
    middle = tuple(np.round((start + end) / 2 + normal * 1.5).astype(int))
    cv2.putText(canvas, str(number), middle, FONT, FONT_SCALE, colour, 1, cv2.LINE_AA)


def _mesh_views(face: Face, callipers: list[Calliper]) -> np.ndarray:
    """uint8 [VIEW_SIDE, 2 VIEW_SIDE, 3]: the face's mesh in its head frame seen from the front and from
    its right side, wireframe grey, with the callipers that join two vertices."""
    points = face.mesh.astype(np.float64)  # [468,3] px
    frame = (points - points[NASION]) @ head_axes(points).T  # [468,3]: x to the subject's left, y up, z out
    views = []
    for horizontal in (frame[:, 0], -frame[:, 2]):  # front: x; the right side: the nose to the image left
        flat = np.column_stack([horizontal, -frame[:, 1]])  # [468,2], image axes (y down)
        low, high = flat.min(axis=0), flat.max(axis=0)
        fit = 0.85 * VIEW_SIDE / max(float((high - low).max()), 1e-9)
        canvas_points = (flat - (low + high) / 2) * fit + VIEW_SIDE / 2  # [468,2] px
        view = np.full((VIEW_SIDE, VIEW_SIDE, 3), 255, np.uint8)
        cv2.polylines(view, list(np.round(canvas_points[face_mesh_scheme.triangles()]).astype(np.int32)), True,
                      MESH_COLOUR, 1, cv2.LINE_AA)
        for number, calliper in enumerate(callipers, start=1):
            if calliper.vertices is not None:
                a, b = calliper.vertices
                _draw_calliper(view, canvas_points[a], canvas_points[b], calliper.valid, number)
        views.append(view)
    return np.hstack(views)


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
    views: list[np.ndarray] = []  # [VIEW_SIDE, 2 VIEW_SIDE, 3] per face with callipers
    for face_number, (face, result) in enumerate(zip(faces, results)):
        if result is None:
            continue
        lines.append((f"face {face_number} ({result.get('method')})", TEXT_COLOUR))
        if "scale" in result:
            lines.append((_draw_scale(photo, face, result["scale"], zoom), SCALE_COLOUR))
        callipers = face_callipers(face, result)
        if callipers:
            views.append(_mesh_views(face, callipers))
        for number, calliper in enumerate(callipers, start=1):
            _draw_calliper(photo, calliper.start * zoom, calliper.end * zoom, calliper.valid, number)
            lines.append((f"{number}. {calliper.label}: {calliper.text}",
                          VALID_COLOUR if calliper.valid else FLAGGED_COLOUR))
        drawn = {calliper.name for calliper in callipers}
        for name, entry in result.get("measurements", {}).items():
            if name not in drawn:
                lines.append((f"-  {entry.get('label', name)}: {_entry_text(entry)}",
                              VALID_COLOUR if entry.get("valid", True) else FLAGGED_COLOUR))
    wrapped = [(part, colour) for text, colour in lines
               for part in textwrap.wrap(text, width=84, subsequent_indent="     ") or [""]]
    views_width = 2 * VIEW_SIDE if views else 0
    height = max(photo.shape[0], len(views) * VIEW_SIDE, (len(wrapped) + 2) * LINE_HEIGHT)
    sheet = np.full((height, photo.shape[1] + views_width + PANEL_WIDTH, 3), 255, np.uint8)
    sheet[:photo.shape[0], :photo.shape[1]] = photo
    for row, view in enumerate(views):
        sheet[row * VIEW_SIDE:(row + 1) * VIEW_SIDE, photo.shape[1]:photo.shape[1] + views_width] = view
    panel_left = photo.shape[1] + views_width + 10
    for row, (text, colour) in enumerate(wrapped, start=1):
        cv2.putText(sheet, text, (panel_left, row * LINE_HEIGHT), FONT, FONT_SCALE, colour, 1, cv2.LINE_AA)
    return sheet
