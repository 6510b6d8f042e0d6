"""Big images: detect once at a bounded size, then look closer only where small faces may be.

The whole image is detected at the backend's bounded input size with a lowered threshold.
Detections at or above the threshold are kept. Weaker ones that are small at that scale are
*candidates*: faces too small for the coarse pass to be sure of. Each candidate gets a square
window of the full-resolution image (``REFINE_SIDE`` pixels) that is detected again;
candidates that already fall inside a window share it. Window detections cut by a window border
are dropped (a neighbouring window or the coarse pass sees them whole), and so are large ones
(large faces are the coarse pass's job; at full resolution they can exceed the detector's range).
The remaining window detections, made at a finer scale, replace the coarse faces they overlap;
the other coarse faces stay as they are.
"""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np

from .nms import iou, nms

logger = logging.getLogger(__name__)

BoxDetector = Callable[[np.ndarray, float, int], tuple[np.ndarray, np.ndarray]]

TILE_TRIGGER = 1.5  # refine only images at least this many times larger than the detector input
CANDIDATE_RATIO = 0.4  # candidates score at least threshold * CANDIDATE_RATIO ...
CANDIDATE_MAX_INPUT_PX = 48  # ... and are at most this big at the coarse scale (detector input pixels)
REFINE_SIDE = 640  # window side in full-resolution pixels
MAX_WINDOWS = 32
MERGE_IOU = 0.3
_EDGE_MARGIN = 2.0


def _sides(boxes: np.ndarray) -> np.ndarray:
    """[N] face sizes (square root of box area) of boxes [N,4+]."""
    return np.sqrt(np.maximum(boxes[:, 2] - boxes[:, 0], 0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0))


def _windows_for(candidates: np.ndarray, height: int, width: int) -> list[tuple[int, int, int, int]]:
    """Windows (x0, y0, x1, y1) covering every candidate box [K,5], strongest candidate first."""
    side_x, side_y = min(REFINE_SIDE, width), min(REFINE_SIDE, height)
    windows: list[tuple[int, int, int, int]] = []
    for x1, y1, x2, y2, _ in candidates[np.argsort(-candidates[:, 4], kind="stable")]:
        if any(wx0 <= x1 and wy0 <= y1 and x2 <= wx1 and y2 <= wy1 for wx0, wy0, wx1, wy1 in windows):
            continue
        center_x, center_y = (x1 + x2) / 2, (y1 + y2) / 2
        x0 = int(np.clip(round(center_x - side_x / 2), 0, width - side_x))
        y0 = int(np.clip(round(center_y - side_y / 2), 0, height - side_y))
        windows.append((x0, y0, x0 + side_x, y0 + side_y))
        if len(windows) == MAX_WINDOWS:
            break
    return windows


def _inside_window(boxes: np.ndarray, window: tuple[int, int, int, int], height: int, width: int) -> np.ndarray:
    """[N] bool: boxes not cut by a window border that is not also an image border."""
    x0, y0, x1, y1 = window
    keep = np.ones(len(boxes), bool)
    if x0 > 0:
        keep &= boxes[:, 0] > x0 + _EDGE_MARGIN
    if y0 > 0:
        keep &= boxes[:, 1] > y0 + _EDGE_MARGIN
    if x1 < width:
        keep &= boxes[:, 2] < x1 - _EDGE_MARGIN
    if y1 < height:
        keep &= boxes[:, 3] < y1 - _EDGE_MARGIN
    return keep


def detect_with_refinement(detect_boxes: BoxDetector, image: np.ndarray, threshold: float,
                           side: int) -> tuple[np.ndarray, np.ndarray]:
    """Boxes [N,5] and kps [N,5,2] in image pixels. ``detect_boxes(image, threshold, side)`` is one
    backend pass; ``side`` is its bounded input size (0 = full resolution, no refinement)."""
    height, width = image.shape[:2]
    longest = max(height, width)
    if not side or longest < side * TILE_TRIGGER:
        return detect_boxes(image, threshold, side)
    boxes, kps = detect_boxes(image, threshold * CANDIDATE_RATIO, side)
    confident = boxes[:, 4] >= threshold
    scale = side / longest
    candidates = boxes[~confident & (_sides(boxes) * scale <= CANDIDATE_MAX_INPUT_PX)]
    windows = _windows_for(candidates, height, width)
    fine_boxes, fine_kps = [np.zeros((0, 5), np.float32)], [np.zeros((0, 5, 2), np.float32)]
    for window in windows:
        x0, y0, x1, y1 = window
        found, found_kps = detect_boxes(image[y0:y1, x0:x1], threshold, 0)
        found[:, [0, 2]] += x0
        found[:, [1, 3]] += y0
        found_kps += np.array([x0, y0], np.float32)
        wanted = _inside_window(found, window, height, width) & (_sides(found) * scale <= 2 * CANDIDATE_MAX_INPUT_PX)
        fine_boxes.append(found[wanted])
        fine_kps.append(found_kps[wanted])
    fine = np.concatenate(fine_boxes)  # [F,5]
    unique = nms(fine, MERGE_IOU)  # the same face seen by two windows
    fine, fine_kps = fine[unique], np.concatenate(fine_kps)[unique]
    coarse = np.nonzero(confident)[0]
    coarse = [index for index in coarse if len(fine) == 0 or iou(boxes[index], fine).max() <= MERGE_IOU]
    logger.debug("refined %d candidate(s) in %d window(s): %d face(s) added to %d",
                 len(candidates), len(windows), len(fine), len(coarse))
    return np.concatenate([boxes[coarse], fine]), np.concatenate([kps[coarse], fine_kps])
