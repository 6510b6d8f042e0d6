"""Greedy non-maximum suppression."""

from __future__ import annotations

import numpy as np


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """[N] intersection over union of one box (x1,y1,x2,y2,...) with boxes [N,4+]."""
    width = np.maximum(0.0, np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]))
    height = np.maximum(0.0, np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]))
    overlap = width * height
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return overlap / np.maximum(area + areas - overlap, 1e-9)


def nms(boxes: np.ndarray, iou_threshold: float) -> list[int]:
    """Indices kept from boxes [N,5] (x1,y1,x2,y2,score), best score first."""
    order = np.argsort(-boxes[:, 4], kind="stable") if len(boxes) else np.zeros(0, int)
    keep: list[int] = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        order = rest[iou(boxes[best], boxes[rest]) <= iou_threshold]
    return keep
