"""CenterFace's model call and its output maps -> boxes: shared by the plain pass (``centerface``) and the
cascade (``centerface_cascade``).

Input ``INPUT``: RGB float32 [B,3,H,W], raw 0..255, H and W multiples of 32. Outputs ``OUTPUTS``, at stride
4: heatmap [B,1,h,w], log-scale [B,2,h,w] (box height, width), offset [B,2,h,w] (centre y, x within the
cell), landmarks [B,10,h,w] (5 points as (y, x) pairs relative to the box).
"""

from __future__ import annotations

import numpy as np

INPUT = "input.1"
OUTPUTS = ["537", "538", "539", "540"]
STRIDE = 4


def infer(session, blob: np.ndarray) -> list[np.ndarray]:
    """The four output maps [B,C,h,w] (heatmap, log-scale, offset, landmarks) of one input blob [B,3,H,W]."""
    return session.run(OUTPUTS, {INPUT: blob})


def to_image(boxes: np.ndarray, kps: np.ndarray, map_shape: tuple[int, int], width: int,
             height: int) -> tuple[np.ndarray, np.ndarray]:
    """Boxes [N,5] and kps [N,5,2] in pixels of an input whose heatmap is ``map_shape`` (h, w) -> pixels of
    the ``width`` x ``height`` image it was resized from."""
    scale = np.array([width / (map_shape[1] * STRIDE), height / (map_shape[0] * STRIDE)], np.float32)  # [2] x, y
    boxes = boxes.copy()
    boxes[:, :4] *= np.tile(scale, 2)
    return boxes, kps * scale


def decode(outputs: list[np.ndarray], item: int, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Boxes [N,5] (x1,y1,x2,y2,score) and kps [N,5,2] in input pixels of every heatmap cell of batch item
    ``item`` scoring above ``threshold`` (one box per cell: NMS is the caller's)."""
    heatmap, log_scale, offset, landmarks = (output[item] for output in outputs)
    in_h, in_w = heatmap.shape[1] * STRIDE, heatmap.shape[2] * STRIDE
    rows, cols = np.nonzero(heatmap[0] > threshold)
    return _boxes(heatmap, log_scale, offset, landmarks, rows, cols, in_w, in_h)


def peaks(outputs: list[np.ndarray], item: int, low: float, high: float) -> np.ndarray:
    """Boxes [N,5] in input pixels of the heatmap's local maxima (3x3) scoring in [low, high): one box per
    uncertain detection, without the cells around its peak."""
    heatmap, log_scale, offset, landmarks = (output[item] for output in outputs)
    scores = heatmap[0]  # [h,w]
    padded = np.pad(scores, 1, constant_values=-1.0)
    neighbours = np.max([padded[dy:dy + scores.shape[0], dx:dx + scores.shape[1]]
                         for dy in range(3) for dx in range(3)], axis=0)  # [h,w] 3x3 maximum
    rows, cols = np.nonzero((scores >= low) & (scores < high) & (scores >= neighbours))
    in_h, in_w = scores.shape[0] * STRIDE, scores.shape[1] * STRIDE
    return _boxes(heatmap, log_scale, offset, landmarks, rows, cols, in_w, in_h)[0]


def _boxes(heatmap, log_scale, offset, landmarks, rows: np.ndarray, cols: np.ndarray, in_w: int,
           in_h: int) -> tuple[np.ndarray, np.ndarray]:
    if rows.size == 0:
        return np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32)
    box_h = np.exp(log_scale[0, rows, cols]) * STRIDE  # [N]
    box_w = np.exp(log_scale[1, rows, cols]) * STRIDE
    center_y = (rows + offset[0, rows, cols] + 0.5) * STRIDE
    center_x = (cols + offset[1, rows, cols] + 0.5) * STRIDE
    x1 = np.clip(center_x - box_w / 2, 0, in_w)
    y1 = np.clip(center_y - box_h / 2, 0, in_h)
    x2 = np.minimum(x1 + box_w, in_w)
    y2 = np.minimum(y1 + box_h, in_h)
    boxes = np.stack([x1, y1, x2, y2, heatmap[0, rows, cols]], axis=1)  # [N,5]
    points = landmarks[:, rows, cols].T.reshape(-1, 5, 2)  # [N,5,(dy,dx)]
    kps_x = points[..., 1] * box_w[:, None] + x1[:, None]  # [N,5]
    kps_y = points[..., 0] * box_h[:, None] + y1[:, None]
    return boxes.astype(np.float32), np.stack([kps_x, kps_y], axis=-1).astype(np.float32)  # [N,5,2]
