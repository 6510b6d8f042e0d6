"""Greedy non-maximum suppression."""

from __future__ import annotations

import numpy as np


def nms(boxes: np.ndarray, iou_threshold: float) -> list[int]:
    """Indices kept from boxes [N,5] (x1,y1,x2,y2,score), best score first."""
    if len(boxes) == 0:
        return []
    x1, y1, x2, y2, scores = boxes.T
    areas = (x2 - x1) * (y2 - y1)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        width = np.maximum(0.0, np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]))
        height = np.maximum(0.0, np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]))
        overlap = width * height
        iou = overlap / np.maximum(areas[best] + areas[rest] - overlap, 1e-9)
        order = rest[iou <= iou_threshold]
    return keep
