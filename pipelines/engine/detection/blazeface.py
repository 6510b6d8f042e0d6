"""BlazeFace short-range (MediaPipe), a second face detector of another family than CenterFace.

The privacy audit uses it to catch faces the embedded CenterFace misses. The network sees 128x128
RGB in -1..1 and answers 896 anchors (16x16 at stride 8 with 2 anchors, 8x8 at stride 16 with 6):
per anchor a logit and 16 regressions (box centre offset, width, height, six keypoints, in input
pixels). It is trained for faces filling a good part of the crop, so an image is scanned with
square windows from the whole image down to ``MIN_WINDOW`` pixels, half-overlapping, each resized
to 128; detections of all windows are merged by NMS.
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np

from ... import models
from ...models.download import ensure
from .nms import nms

NAME = "blazeface"
FEATURE = "privacy audit with a second detector"
SIZE = 128
MIN_WINDOW = 144  # smallest window side in image pixels: faces down to about 20 px
MERGE_IOU = 0.3

_nets: dict[tuple[str, int], cv2.dnn.Net] = {}
_lock = threading.Lock()


def model_path() -> Path:
    """The .tflite file, fetched on first use when allowed (ModelMissingError otherwise)."""
    return ensure("face_detection", FEATURE)[0]


def is_available() -> bool:
    return models.is_available("face_detection")


def _net(path: Path) -> cv2.dnn.Net:
    key = (str(path), threading.get_ident())
    with _lock:
        net = _nets.get(key)
        if net is None:
            engine = getattr(cv2.dnn, "ENGINE_CLASSIC", None)
            net = (cv2.dnn.readNetFromTFLite(str(path)) if engine is None
                   else cv2.dnn.readNetFromTFLite(str(path), engine))
            _nets[key] = net
    return net


def _anchors() -> np.ndarray:
    """[896,2] anchor centres in 0..1."""
    centres = []
    for grid, per_cell in ((16, 2), (8, 6)):
        ys, xs = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
        cells = np.stack([(xs + 0.5) / grid, (ys + 0.5) / grid], axis=-1).reshape(-1, 2)
        centres.append(np.repeat(cells, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


_ANCHORS = _anchors()


def _windows(height: int, width: int) -> list[tuple[int, int, int]]:
    """Square windows (x0, y0, side): the whole image, then sides halving down to MIN_WINDOW, half-overlapping."""
    windows = [(0, 0, max(height, width))]
    side = min(height, width)
    while side >= MIN_WINDOW:
        step = side // 2
        for y0 in sorted({*range(0, max(height - side, 0) + 1, step), max(height - side, 0)}):
            for x0 in sorted({*range(0, max(width - side, 0) + 1, step), max(width - side, 0)}):
                windows.append((x0, y0, side))
        side = side * 2 // 3
    return windows


def _crop(image: np.ndarray, x0: int, y0: int, side: int) -> np.ndarray:
    """[128,128,3] float32 -1..1 of the square window (zero padded past the image)."""
    window = np.zeros((side, side, 3), np.uint8)
    part = image[y0:y0 + side, x0:x0 + side]
    window[:part.shape[0], :part.shape[1]] = part
    interpolation = cv2.INTER_AREA if side > SIZE else cv2.INTER_LINEAR
    return cv2.resize(window, (SIZE, SIZE), interpolation=interpolation).astype(np.float32) / 127.5 - 1.0


def _decode(regressors: np.ndarray, logits: np.ndarray, threshold: float) -> np.ndarray:
    """Boxes [N,5] (x1,y1,x2,y2,score) in 0..1 window units from one window's outputs [896,16], [896,1]."""
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits[:, 0], -80, 80)))
    keep = scores >= threshold
    reg, anchors = regressors[keep] / SIZE, _ANCHORS[keep]
    cx, cy = reg[:, 0] + anchors[:, 0], reg[:, 1] + anchors[:, 1]
    half_w, half_h = reg[:, 2] / 2, reg[:, 3] / 2
    return np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h, scores[keep]], axis=1)


def detect_boxes(image: np.ndarray, threshold: float = 0.75) -> np.ndarray:
    """Boxes [N,5] (x1,y1,x2,y2,score) in image pixels of the faces in a uint8 RGB image, after NMS."""
    height, width = image.shape[:2]
    net = _net(model_path())
    windows = _windows(height, width)
    found = [np.zeros((0, 5), np.float32)]
    for x0, y0, side in windows:  # one window per forward: OpenCV's TFLite import mixes up batches
        net.setInput(np.ascontiguousarray(_crop(image, x0, y0, side).transpose(2, 0, 1)[None]))  # [1,3,128,128]
        regressors, logits = net.forward(["regressors", "classificators"])
        boxes = _decode(regressors.reshape(-1, 16), logits.reshape(-1, 1), threshold)
        boxes[:, :4] = boxes[:, :4] * side + np.array([x0, y0, x0, y0], np.float32)
        found.append(boxes.astype(np.float32))
    boxes = np.concatenate(found)
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width)
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height)
    return boxes[nms(boxes, MERGE_IOU)]
