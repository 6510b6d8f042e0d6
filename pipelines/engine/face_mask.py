"""Simple face masks: filled boxes or ellipses, optionally grown or shrunk."""

from __future__ import annotations

import cv2
import numpy as np

from ..core.choices import MASK_SHAPES
from ..core.errors import InvalidParameterError
from .face import Face


def faces_mask(height: int, width: int, faces: list[Face], shape: str = "box", grow: int = 0) -> np.ndarray:
    """float32 [H,W] mask, 1 inside every face's box (or the ellipse inscribed in it), 0 elsewhere.
    ``grow`` pixels are added on every side of each box (negative shrinks)."""
    if shape not in MASK_SHAPES:
        raise InvalidParameterError(f"unknown mask shape '{shape}'; choose one of {', '.join(MASK_SHAPES)}")
    mask = np.zeros((height, width), np.uint8)  # [H,W]
    for face in faces:
        x1, y1, x2, y2 = face.bbox + np.array([-grow, -grow, grow, grow], np.float32)
        if x2 <= x1 or y2 <= y1:
            continue
        if shape == "box":
            left, top = max(int(np.floor(x1)), 0), max(int(np.floor(y1)), 0)
            right, bottom = min(int(np.ceil(x2)), width), min(int(np.ceil(y2)), height)
            mask[top:bottom, left:right] = 1
        else:
            center = (int(round((x1 + x2) / 2)), int(round((y1 + y2) / 2)))
            axes = (max(int(round((x2 - x1) / 2)), 1), max(int(round((y2 - y1) / 2)), 1))
            cv2.ellipse(mask, center, axes, 0, 0, 360, 1, -1)
    return mask.astype(np.float32)
