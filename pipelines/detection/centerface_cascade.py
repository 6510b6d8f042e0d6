"""int8 proposes, fp32 confirms: the int8 CenterFace's speed with the fp32 model's faces (onnxruntime's CPU).

The int8 model's scores are not the fp32 model's: most sit within a few hundredths, but a face the fp32 model
scores just above the threshold can score far below it in int8 (small faces in crowds, dark frames). So on
one detector input (the image resized to multiples of 32, float32 [3,H,W]):

1. the int8 model runs on the whole input;
2. its boxes scoring at least ``threshold - THRESHOLD_MARGIN`` are faces (its own pass, as before);
3. its heatmap peaks in [``PROPOSAL_THRESHOLD``, that) are uncertain: the fp32 model looks again at a window
   of the same input around each, cut on the model's 32 px grid with ``CONTEXT`` px (at least
   ``CONTEXT_FACES`` face sides) of context each side, so that it computes nearly the features it computes
   on the whole input; its boxes there scoring at least ``threshold`` whose centre lies ``INTERIOR`` px or
   more inside the window (or at the input's own border) are faces. Overlapping windows are merged first;
   when the windows would cover more than ``FULL_PASS_SHARE`` of the input, the fp32 model runs on the whole
   input instead.

Inputs of at most ``SMALL_INPUT`` pixels (the 640 px overview) run the fp32 model alone.

Every constant was chosen on the tuning set (tests/privacy_hard_set.py); docs/privacy.md gives what they
give on the evaluation set.
"""

from __future__ import annotations

import numpy as np

from . import centerface_maps

PROPOSAL_THRESHOLD = 0.05  # the int8 scores of the fp32 model's faces reach down to 0.07 on the tuning set
THRESHOLD_MARGIN = 0.03  # int8 boxes at threshold - 0.03 and up are faces without a second look
CONTEXT = 96  # px of the input around an uncertain box (at least CONTEXT_FACES face sides): the fp32 pass
CONTEXT_FACES = 1.5  # then finds in the windows every face it finds on the whole input, on the tuning set
INTERIOR = 80  # window boxes centred closer to a cut window border are left to the int8 pass
GRID = 32  # the model's coarsest stride: windows start on its grid, so they sample what the whole input does
FULL_PASS_SHARE = 0.5  # windows covering more than this share of the input: one fp32 pass over all of it
SMALL_INPUT = 640 * 480  # inputs of at most this many pixels run fp32 alone: int8 plus windows cost more


def detect(int8_session, fp32_session, blob: np.ndarray, width: int, height: int,
           threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Boxes [N,5] and kps [N,5,2] in pixels of the ``width`` x ``height`` image that ``blob`` [3,H,W] was
    resized from, before NMS."""
    if blob.shape[1] * blob.shape[2] <= SMALL_INPUT:
        outputs = centerface_maps.infer(fp32_session, blob[None])
        boxes, kps = centerface_maps.decode(outputs, 0, threshold)
        return centerface_maps.to_image(boxes, kps, outputs[0].shape[2:], width, height)
    outputs = centerface_maps.infer(int8_session, blob[None])
    boxes, kps = centerface_maps.decode(outputs, 0, threshold - THRESHOLD_MARGIN)  # input px
    uncertain = centerface_maps.peaks(outputs, 0, PROPOSAL_THRESHOLD, threshold - THRESHOLD_MARGIN)  # [U,5]
    found_boxes, found_kps = [boxes], [kps]
    windows = merged(windows_around(uncertain, blob.shape[1], blob.shape[2]))
    area = sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in windows)
    if area > FULL_PASS_SHARE * blob.shape[1] * blob.shape[2]:
        windows = [(0, 0, blob.shape[2], blob.shape[1])]
    for window in windows:
        window_boxes, window_kps = _confirm(fp32_session, blob, window, threshold)
        found_boxes.append(window_boxes)
        found_kps.append(window_kps)
    return centerface_maps.to_image(np.concatenate(found_boxes), np.concatenate(found_kps), outputs[0].shape[2:], width, height)


def windows_around(boxes: np.ndarray, in_h: int, in_w: int) -> list[tuple[int, int, int, int]]:
    """Windows (x0, y0, x1, y1) on the ``GRID`` of an ``in_w`` x ``in_h`` input, one per box [N,5+] with its
    context."""
    windows = []
    for x1, y1, x2, y2 in boxes[:, :4]:
        context = max(CONTEXT, CONTEXT_FACES * max(x2 - x1, y2 - y1))
        windows.append((int(max(0, (x1 - context) // GRID * GRID)), int(max(0, (y1 - context) // GRID * GRID)),
                        int(min(in_w, -(-(x2 + context) // GRID) * GRID)),
                        int(min(in_h, -(-(y2 + context) // GRID) * GRID))))
    return windows


def merged(windows: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Windows with every overlapping pair replaced by their bounding window, until none overlap."""
    pending, done = list(windows), []
    while pending:
        x0, y0, x1, y1 = pending.pop()
        for index, (a0, b0, a1, b1) in enumerate(done):
            if a0 < x1 and x0 < a1 and b0 < y1 and y0 < b1:
                del done[index]
                pending.append((min(x0, a0), min(y0, b0), max(x1, a1), max(y1, b1)))
                break
        else:
            done.append((x0, y0, x1, y1))
    return done


def _confirm(session, blob: np.ndarray, window: tuple[int, int, int, int],
             threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """The fp32 boxes [N,5] and kps [N,5,2] (input px) of one window scoring >= ``threshold`` and centred in
    its interior."""
    x0, y0, x1, y1 = window
    crop = np.ascontiguousarray(blob[:, y0:y1, x0:x1])[None]  # [1,3,h,w]
    boxes, kps = centerface_maps.decode(centerface_maps.infer(session, crop), 0, threshold)
    boxes[:, [0, 2]] += x0
    boxes[:, [1, 3]] += y0
    kps += np.array([x0, y0], np.float32)
    centre_x, centre_y = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2  # [N]
    in_h, in_w = blob.shape[1:]
    inside = ((centre_x >= x0 + INTERIOR) | (x0 == 0)) & ((centre_x <= x1 - INTERIOR) | (x1 == in_w)) \
        & ((centre_y >= y0 + INTERIOR) | (y0 == 0)) & ((centre_y <= y1 - INTERIOR) | (y1 == in_h))
    return boxes[inside], kps[inside]
