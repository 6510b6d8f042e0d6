"""A picture of one compatibility result: both faces side by side, the score, and a bar per factor.

The JSON report says everything; the card lets someone in the graph editor see at a glance which face was
compared with which and what held the score down. Bars are green from 0.75, amber from 0.5, red below;
unmeasured or unscored factors (``score: null``) get a grey, empty bar and say which they are.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..engine.face import Face
from .blend import region

FACE_SIDE = 256  # px, each face crop on the card
MARGIN = 12
ROW_HEIGHT = 26
HEADLINE_HEIGHT = 44
BAR_LEFT = 120  # px from the card's left edge: factor names go before it
BACKGROUND = (250, 250, 250)  # RGB
TEXT = (20, 20, 20)
GOOD, FAIR, POOR, UNSCORED = (40, 170, 80), (235, 160, 20), (210, 50, 40), (190, 190, 190)


def face_crop(image: np.ndarray, face: Face) -> np.ndarray:
    """[FACE_SIDE, FACE_SIDE, 3] uint8: the face's outline box grown by a quarter, padded square, resized."""
    x0, y0, x1, y1 = region(face, image.shape)
    crop = image[y0:y1, x0:x1]  # [h,w,3]
    side = max(crop.shape[:2])
    square = np.full((side, side, 3), BACKGROUND, np.uint8)
    top, left = (side - crop.shape[0]) // 2, (side - crop.shape[1]) // 2
    square[top:top + crop.shape[0], left:left + crop.shape[1]] = crop
    return cv2.resize(square, (FACE_SIDE, FACE_SIDE), interpolation=cv2.INTER_AREA)


def bar_colour(score: float | None) -> tuple[int, int, int]:
    if score is None:
        return UNSCORED
    return GOOD if score >= 0.75 else FAIR if score >= 0.5 else POOR


def _label(canvas: np.ndarray, text: str, x: int, y: int) -> None:
    """``text`` on a filled background box at the top-left corner (x, y) of a face crop."""
    (text_width, text_height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
    cv2.rectangle(canvas, (x, y), (x + text_width + 8, y + text_height + baseline + 6), BACKGROUND, -1)
    _text(canvas, text, x + 4, y + text_height + 3)


def _text(canvas: np.ndarray, text: str, x: int, y: int, scale: float = 0.5, thickness: int = 1) -> None:
    cv2.putText(canvas, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, TEXT, thickness, cv2.LINE_AA)


def _score_text(item: dict) -> str:
    """The factor's score out of 100, or why there is none."""
    if item["score"] is not None:
        return f"{100 * item['score']:.0f}"
    return "not scored" if item.get("value") is not None else "not measured"


def draw_card(source_image: np.ndarray, source_face: Face, target_image: np.ndarray, target_face: Face,
              result: dict, threshold: float) -> np.ndarray:
    """[H, W, 3] uint8 RGB card for ``result`` (``compatibility()``'s dict) judged against ``threshold``."""
    factors = result["factors"]
    width = 2 * FACE_SIDE + 3 * MARGIN
    height = MARGIN + FACE_SIDE + HEADLINE_HEIGHT + ROW_HEIGHT * len(factors) + MARGIN
    canvas = np.full((height, width, 3), BACKGROUND, np.uint8)
    canvas[MARGIN:MARGIN + FACE_SIDE, MARGIN:MARGIN + FACE_SIDE] = face_crop(source_image, source_face)
    right = 2 * MARGIN + FACE_SIDE
    canvas[MARGIN:MARGIN + FACE_SIDE, right:right + FACE_SIDE] = face_crop(target_image, target_face)
    _label(canvas, "source", MARGIN, MARGIN)
    _label(canvas, "target", right, MARGIN)

    score = result["score"]
    verdict = "compatible" if score >= threshold else "not compatible"
    headline_y = MARGIN + FACE_SIDE + 30
    _text(canvas, f"{score:.1f} / 100  {verdict} (threshold {threshold:g})", MARGIN, headline_y, 0.65, 2)

    bar_right = width - MARGIN - 110  # room for the score after the bar
    for row, (name, item) in enumerate(factors.items()):
        top = MARGIN + FACE_SIDE + HEADLINE_HEIGHT + row * ROW_HEIGHT
        _text(canvas, name.replace("_", " "), MARGIN, top + 17)
        cv2.rectangle(canvas, (BAR_LEFT, top + 5), (bar_right, top + 20), UNSCORED, 1)
        if item["score"] is not None:
            filled = BAR_LEFT + int(round(item["score"] * (bar_right - BAR_LEFT)))
            cv2.rectangle(canvas, (BAR_LEFT, top + 5), (filled, top + 20), bar_colour(item["score"]), -1)
        _text(canvas, _score_text(item), bar_right + 8, top + 17, 0.45)
    return canvas
