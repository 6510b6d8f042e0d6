"""SCRFD, the detector of insightface ``buffalo_l`` (``det_10g.onnx``), with our own decoding.

Model contract (det_10g):
  input  "input.1"  float32 [1, 3, H, W], RGB, (pixel - 127.5) / 128, H and W multiples of 32
  outputs, in session order, for strides 8, 16, 32 and 2 anchors per cell:
    scores  [N_s, 1]    (already sigmoid)          e.g. "448", "471", "494"
    bboxes  [N_s, 4]    distances l, t, r, b / stride   "451", "474", "497"
    kps     [N_s, 10]   5 points (dx, dy) / stride       "454", "477", "500"
  with N_s = (H / s) * (W / s) * 2, cells row-major and the two anchors of a cell adjacent.
  (Some SCRFD exports add a leading batch axis [1, N_s, k]; both layouts decode the same.)

The image is letterboxed: scaled to fit a square of ``side`` pixels and placed top-left on black.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ...core.errors import ModelCorruptError
from ...runtime import onnx_runtime
from .nms import nms

STRIDES = (8, 16, 32)
ANCHORS_PER_CELL = 2
INPUT_MEAN = 127.5
INPUT_STD = 128.0
TRAINED_SIDE = 640
NMS_IOU = 0.4


def letterbox(image: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """Blob [1,3,side,side] float32 and the scale applied to the image (input px = image px * scale)."""
    height, width = image.shape[:2]
    scale = side / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    canvas = np.zeros((side, side, 3), np.uint8)  # [side,side,3] RGB, black padding
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    canvas[:new_h, :new_w] = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    blob = (canvas.astype(np.float32) - INPUT_MEAN) / INPUT_STD
    return blob.transpose(2, 0, 1)[None], scale  # [1,3,side,side]


def anchor_centers(rows: int, cols: int, stride: int) -> np.ndarray:
    """[rows*cols*2, 2] anchor centres (x, y) in input pixels, the two anchors of a cell adjacent."""
    ys, xs = np.mgrid[:rows, :cols]
    centers = np.stack([xs, ys], axis=-1).reshape(-1, 2).astype(np.float32) * stride  # [rows*cols,2]
    return np.repeat(centers, ANCHORS_PER_CELL, axis=0)


def decode(outputs: list[np.ndarray], input_h: int, input_w: int,
           threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """SCRFD outputs -> boxes [N,5] (x1,y1,x2,y2,score) and kps [N,5,2] in input pixels, after NMS."""
    all_boxes, all_kps = [], []
    count = len(STRIDES)
    for index, stride in enumerate(STRIDES):
        scores = outputs[index].reshape(-1)  # [N_s]
        distances = outputs[index + count].reshape(-1, 4) * stride  # [N_s,4]
        offsets = outputs[index + 2 * count].reshape(-1, 5, 2) * stride  # [N_s,5,2]
        centers = anchor_centers(input_h // stride, input_w // stride, stride)  # [N_s,2]
        if len(centers) != len(scores):
            raise ModelCorruptError(
                f"SCRFD output at stride {stride} has {len(scores)} anchors, expected {len(centers)}: "
                "the detector file does not look like insightface det_10g.onnx; re-download buffalo_l"
            )
        keep = np.nonzero(scores >= threshold)[0]
        centers, distances, offsets = centers[keep], distances[keep], offsets[keep]
        boxes = np.concatenate([centers - distances[:, :2], centers + distances[:, 2:]], axis=1)  # [K,4]
        all_boxes.append(np.concatenate([boxes, scores[keep, None]], axis=1))
        all_kps.append(centers[:, None, :] + offsets)
    boxes = np.concatenate(all_boxes).astype(np.float32)  # [K,5]
    kps = np.concatenate(all_kps).astype(np.float32)  # [K,5,2]
    keep = nms(boxes, NMS_IOU)
    return boxes[keep], kps[keep]


def _multiple_of_32(value: float) -> int:
    return max(32, int(np.ceil(value / 32)) * 32)


def input_side(max_side: int) -> int:
    """Square input side for a ``max_side`` option: the trained 640, less when ``max_side`` asks
    for less, 0 (full resolution) when ``max_side`` is 0."""
    return min(TRAINED_SIDE, _multiple_of_32(max_side)) if max_side else 0


def full_side(image: np.ndarray) -> int:
    """Square input side that keeps ``image`` at full resolution."""
    return _multiple_of_32(max(image.shape[:2]))


def detect(model: Path, image: np.ndarray, threshold: float, side: int,
           device: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Boxes [N,5] and kps [N,5,2] in image pixels for one uint8 RGB image [H,W,3]."""
    session = onnx_runtime.session(model, device=device)
    fixed = session.get_inputs()[0].shape[2:4]
    if all(isinstance(dim, int) for dim in fixed):
        side = int(fixed[0])
    blob, scale = letterbox(image, side)
    outputs = session.run(None, {session.get_inputs()[0].name: blob})
    boxes, kps = decode(outputs, side, side, threshold)
    boxes[:, :4] /= scale
    kps /= scale
    height, width = image.shape[:2]
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height)
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width)
    return boxes, kps
