"""Windows of a CenterFace input looked at again: placed around boxes, merged, detected in (at a zoom).

A window is (x0, y0, x1, y1) in pixels of the detector input [3,H,W] (the image resized to multiples of 32).
"""

from __future__ import annotations

import cv2
import numpy as np

from . import centerface_maps

Window = tuple[int, int, int, int]


def around(boxes: np.ndarray, in_h: int, in_w: int, context: float, context_faces: float, grid: int) -> list[Window]:
    """One window per box [N,5+]: the box with ``context`` px (at least ``context_faces`` box sides) on each
    side, grown outwards to multiples of ``grid``, clipped to the ``in_w`` x ``in_h`` input."""
    windows = []
    for x1, y1, x2, y2 in boxes[:, :4]:
        margin = max(context, context_faces * max(x2 - x1, y2 - y1))
        windows.append((int(max(0, (x1 - margin) // grid * grid)), int(max(0, (y1 - margin) // grid * grid)),
                        int(min(in_w, -(-(x2 + margin) // grid) * grid)),
                        int(min(in_h, -(-(y2 + margin) // grid) * grid))))
    return windows


def merged(windows: list[Window], max_side: int | None = None) -> list[Window]:
    """Windows with every overlapping pair replaced by their bounding window, until none overlap; with
    ``max_side``, a pair whose bounding window would be longer than that stays as it is."""
    pending, done = list(windows), []
    while pending:
        x0, y0, x1, y1 = pending.pop()
        for index, (a0, b0, a1, b1) in enumerate(done):
            bounding = (min(x0, a0), min(y0, b0), max(x1, a1), max(y1, b1))
            small_enough = max_side is None or max(bounding[2] - bounding[0], bounding[3] - bounding[1]) <= max_side
            if a0 < x1 and x0 < a1 and b0 < y1 and y0 < b1 and small_enough:
                del done[index]
                pending.append(bounding)
                break
        else:
            done.append((x0, y0, x1, y1))
    return done


def area(windows: list[Window]) -> int:
    return sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in windows)


def detect_in(session, blob: np.ndarray, window: Window, threshold: float, interior: float,
              zoom: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Boxes [N,5] and kps [N,5,2] (input px) that ``session`` finds at ``threshold`` in one window of
    ``blob`` [3,H,W] enlarged ``zoom`` times, centred at least ``interior`` input px inside each window border
    that is not the input's own (nearer a cut border, a face is seen without its surroundings)."""
    x0, y0, x1, y1 = window
    crop = blob[:, y0:y1, x0:x1]  # [3,h,w]
    if zoom != 1:
        crop = np.stack([cv2.resize(plane, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_LINEAR) for plane in crop])
    boxes, kps = centerface_maps.decode(centerface_maps.infer(session, np.ascontiguousarray(crop)[None]), 0, threshold)
    boxes[:, :4] = boxes[:, :4] / zoom + np.array([x0, y0, x0, y0], np.float32)
    kps = kps / zoom + np.array([x0, y0], np.float32)
    centre_x, centre_y = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2  # [N]
    in_h, in_w = blob.shape[1:]
    inside = (((centre_x >= x0 + interior) | (x0 == 0)) & ((centre_x <= x1 - interior) | (x1 == in_w))
              & ((centre_y >= y0 + interior) | (y0 == 0)) & ((centre_y <= y1 - interior) | (y1 == in_h)))
    return boxes[inside], kps[inside]
