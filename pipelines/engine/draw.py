"""Preview drawing: numbered face boxes, keypoints and dense landmarks on a copy of the image."""

from __future__ import annotations

import cv2
import numpy as np

from .face import Face

BOX_COLOR = (0, 220, 90)  # RGB
KPS_COLOR = (255, 60, 60)
LANDMARK_COLOR = (60, 160, 255)
LABEL_TEXT_COLOR = (0, 0, 0)


def draw_faces(image: np.ndarray, faces: list[Face], landmarks: bool = True) -> np.ndarray:
    """uint8 RGB [H,W,3] copy of ``image`` with each face's box and its index (0, 1, ...) drawn,
    plus its five keypoints and dense landmarks when ``landmarks`` (the 468 mesh points when the face
    has a mesh, else its landmark set)."""
    canvas = np.ascontiguousarray(image).copy()
    unit = max(1, round(max(image.shape[:2]) / 640))  # line width that stays visible on big images
    for index, face in enumerate(faces):
        x1, y1, x2, y2 = (int(round(value)) for value in face.bbox)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), BOX_COLOR, 2 * unit, cv2.LINE_AA)
        _label(canvas, str(index), (x1, y1), unit)
        if not landmarks:
            continue
        points = face.mesh if face.mesh is not None else face.landmarks  # [N,2|3]
        if points is not None:
            for x, y in points[:, :2]:
                cv2.circle(canvas, (int(round(x)), int(round(y))), unit, LANDMARK_COLOR, -1, cv2.LINE_AA)
        for x, y in face.kps:
            cv2.circle(canvas, (int(round(x)), int(round(y))), 2 * unit, KPS_COLOR, -1, cv2.LINE_AA)
    return canvas


def _label(canvas: np.ndarray, text: str, corner: tuple[int, int], unit: int) -> None:
    """Index label in a filled box just above the face box's top-left corner (inside when at the top)."""
    scale, thickness = 0.6 * unit, max(1, unit)
    (width, height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    x, y = corner
    top = y - height - baseline - 4 * unit if y - height - baseline - 4 * unit >= 0 else y
    cv2.rectangle(canvas, (x, top), (x + width + 4 * unit, top + height + baseline + 4 * unit), BOX_COLOR, -1)
    cv2.putText(canvas, text, (x + 2 * unit, top + height + 2 * unit), cv2.FONT_HERSHEY_SIMPLEX, scale,
                LABEL_TEXT_COLOR, thickness, cv2.LINE_AA)
