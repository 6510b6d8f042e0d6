"""int8 proposes, fp32 confirms: the int8 CenterFace's speed with the fp32 model's faces (onnxruntime's CPU).

The int8 model's scores are not the fp32 model's: most sit within a few hundredths, but a face the fp32 model
scores just above the threshold can score far below it in int8 (small faces in crowds, dark frames). So on
one detector input (the image resized to multiples of 32, float32 [3,H,W]):

1. the int8 model runs on the whole input;
2. its boxes scoring at least ``CONFIDENT`` are faces;
3. its heatmap peaks in [``PROPOSAL_THRESHOLD``, ``CONFIDENT``) that overlap none of those faces are uncertain:
   the fp32 model looks again at a window of the same input around each, cut on the model's 32 px grid with
   ``CONTEXT`` px (at least ``CONTEXT_FACES`` face sides) of context each side, so that it computes nearly
   the features it computes on the whole input; its boxes there scoring at least ``threshold`` whose centre
   lies ``INTERIOR`` px or more inside the window (or at the input's own border) are faces. Overlapping
   windows are merged first; when the windows would cover more than ``FULL_PASS_SHARE`` of the input, the
   fp32 model runs on the whole input instead.

So the int8 scores decide nothing alone near the threshold, either way: an int8 box scoring between the
threshold and ``CONFIDENT`` is a face only where the fp32 model finds one too, and a peak below the threshold
is looked at again.
Inputs of at most ``SMALL_INPUT`` pixels (the 640 px overview) run the fp32 model alone.
Every constant was chosen on the tuning set (tests/privacy_hard_set.py); docs/privacy.md gives what they
give on the evaluation set.
"""

from __future__ import annotations

import numpy as np

from . import centerface_maps, centerface_windows
from .nms import iou

PROPOSAL_THRESHOLD = 0.05  # the int8 scores of the fp32 model's faces reach down to 0.07 on the tuning set
CONFIDENT = 0.3  # on the tuning set, every int8 box from here is a box of the fp32 model too (none above 0.29 is not)
CONTEXT = 96  # px of the input around an uncertain box (at least CONTEXT_FACES face sides): the fp32 pass
CONTEXT_FACES = 1.5  # then finds in the windows every face it finds on the whole input, on the tuning set
INTERIOR = 80  # window boxes centred closer to a cut window border are left to the int8 pass
SAME_FACE_IOU = 0.3  # an uncertain peak overlapping a face this much is that face (the NMS of every pass)
GRID = 32  # the model's coarsest stride: windows start on its grid, so they sample what the whole input does
FULL_PASS_SHARE = 0.5  # windows covering more than this share of the input: one fp32 pass over all of it
SMALL_INPUT = 640 * 480  # inputs of at most this many pixels run fp32 alone: int8 plus windows cost more


def detect(int8_session, fp32_session, blob: np.ndarray,
           threshold: float) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """(boxes [N,5], kps [N,5,2] in input px before NMS, the output maps of the whole input's pass) of one
    input ``blob`` [3,H,W]."""
    if blob.shape[1] * blob.shape[2] <= SMALL_INPUT:
        outputs = centerface_maps.infer(fp32_session, blob[None])
        return *centerface_maps.decode(outputs, 0, threshold), outputs
    outputs = centerface_maps.infer(int8_session, blob[None])
    confident = max(threshold, CONFIDENT)
    boxes, kps = centerface_maps.decode(outputs, 0, confident)
    uncertain = centerface_maps.peaks(outputs, 0, PROPOSAL_THRESHOLD, confident)  # [U,5]
    uncertain = uncertain[[not len(boxes) or iou(peak, boxes).max() < SAME_FACE_IOU for peak in uncertain]]
    in_h, in_w = blob.shape[1:]
    windows = centerface_windows.merged(centerface_windows.around(uncertain, in_h, in_w, CONTEXT, CONTEXT_FACES, GRID))
    if centerface_windows.area(windows) > FULL_PASS_SHARE * in_h * in_w:
        windows = [(0, 0, in_w, in_h)]
    found = [centerface_windows.detect_in(fp32_session, blob, window, threshold, INTERIOR) for window in windows]
    return (np.concatenate([boxes, *(window_boxes for window_boxes, _ in found)]),
            np.concatenate([kps, *(window_kps for _, window_kps in found)]), outputs)
