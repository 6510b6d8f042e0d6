"""Synthetic ID-1 cards drawn on photos at a known size in pixels: for the scale-reference tests and
bench/card_scale.py."""

from __future__ import annotations

import cv2
import numpy as np

from playalter.pipelines.engine.card_detection import CARD_HEIGHT_MM, CARD_WIDTH_MM

SUPERSAMPLE = 8


def card_outline(centre: tuple[float, float], width_px: float, degrees: float = 0.0,
                 squash: float = 1.0) -> np.ndarray:
    """[N,2] px outline of an ID-1 card (rounded corners) ``width_px`` wide, turned by ``degrees``;
    ``squash`` < 1 shortens it across, as a card tilted away from the camera looks."""
    height_px = width_px * CARD_HEIGHT_MM / CARD_WIDTH_MM
    radius = 3.18 / CARD_WIDTH_MM * width_px
    arcs = []
    for (sx, sy), start in (((1, 1), 0), ((-1, 1), 90), ((-1, -1), 180), ((1, -1), 270)):
        angles = np.radians(np.linspace(start, start + 90, 12))
        arcs.append(np.column_stack([sx * (width_px / 2 - radius) + radius * np.cos(angles),
                                     sy * (height_px / 2 - radius) + radius * np.sin(angles)]))
    outline = np.concatenate(arcs) * [1.0, squash]  # [48,2]
    turn = np.radians(degrees)
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    return outline @ rotation.T + np.asarray(centre)


def draw_card(image: np.ndarray, outline: np.ndarray, colour=(30, 80, 170)) -> np.ndarray:
    """``image`` with the card filled in, its edges antialiased by supersampling (pixel centres at integers);
    only the card's bounding box is supersampled."""
    height, width = image.shape[:2]
    x0, y0 = (max(int(v) - 2, 0) for v in np.floor(outline.min(axis=0)))
    x1, y1 = (int(v) + 3 for v in np.ceil(outline.max(axis=0)))
    x1, y1 = min(x1, width), min(y1, height)
    big = np.zeros(((y1 - y0) * SUPERSAMPLE, (x1 - x0) * SUPERSAMPLE), np.uint8)
    scaled = ((outline - [x0, y0] + 0.5) * SUPERSAMPLE - 0.5) * 16  # 4 fractional bits
    cv2.fillPoly(big, [np.round(scaled).astype(np.int32)], 255, cv2.LINE_8, shift=4)
    alpha = cv2.resize(big.astype(np.float32) / 255, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)[..., None]
    drawn = image.copy()
    region = image[y0:y1, x0:x1].astype(np.float32)
    drawn[y0:y1, x0:x1] = (region * (1 - alpha) + np.asarray(colour, np.float32) * alpha).round().astype(np.uint8)
    return drawn
