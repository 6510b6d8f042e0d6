"""Scene cuts: a frame whose colour histogram no longer correlates with the previous frame's.

A hue/saturation histogram of a small thumbnail is compared with the previous frame's (correlation,
1 = same); below ``threshold`` the frame starts a new scene. Panning, zooming and faces moving keep the
histogram close; a cut to another shot does not. 0 turns detection off.
"""

from __future__ import annotations

import cv2
import numpy as np

from .settings import SCENE_CUT

THUMBNAIL_SIDE = 96


class SceneCuts:
    def __init__(self, threshold: float = SCENE_CUT):
        self.threshold = threshold
        self.previous: np.ndarray | None = None

    def is_cut(self, rgb: np.ndarray) -> bool:
        if self.threshold <= 0:
            return False
        height, width = rgb.shape[:2]
        scale = THUMBNAIL_SIDE / max(height, width)
        small = cv2.resize(rgb, (max(1, round(width * scale)), max(1, round(height * scale))),
                           interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
        histogram = cv2.calcHist([hsv], [0, 1], None, [16, 8], [0, 180, 0, 256])
        cv2.normalize(histogram, histogram)
        previous, self.previous = self.previous, histogram
        return previous is not None and cv2.compareHist(previous, histogram, cv2.HISTCMP_CORREL) < self.threshold
