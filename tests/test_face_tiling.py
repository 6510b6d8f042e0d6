"""Coarse pass plus full-resolution windows, with a scripted stand-in detector."""

from __future__ import annotations

import numpy as np

from playalter.pipelines.engine.detection import tiling

HEIGHT, WIDTH, SIDE = 2000, 4000, 1000  # coarse scale 0.25


def _kps(boxes: np.ndarray) -> np.ndarray:
    centers = (boxes[:, :2] + boxes[:, 2:4]) / 2
    return np.repeat(centers[:, None, :], 5, axis=1).astype(np.float32)  # [N,5,2]


class ScriptedDetector:
    """Coarse pass: a confident big face, a weak small one and a confident but coarse box overlapping
    it. Window pass (side 0): the small face precisely, a big face (to be ignored) and a face cut by
    the window's left border (to be dropped)."""

    def __init__(self):
        self.calls: list[tuple[tuple[int, int], float, int]] = []

    def __call__(self, image: np.ndarray, threshold: float, side: int):
        self.calls.append((image.shape[:2], threshold, side))
        if side:
            boxes = np.array([[100, 100, 500, 600, 0.9], [3000, 1000, 3040, 1040, 0.3], [3010, 1005, 3054, 1049, 0.6]],
                             np.float32)
        else:  # window coordinates
            boxes = np.array([[318, 302, 358, 342, 0.8], [200, 100, 600, 560, 0.9], [0, 400, 30, 430, 0.9]],
                             np.float32)
        keep = boxes[:, 4] >= threshold
        return boxes[keep], _kps(boxes[keep])


def test_small_candidates_are_refined_in_full_resolution_windows():
    detector = ScriptedDetector()
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    boxes, kps = tiling.detect_with_refinement(detector, image, 0.5, SIDE)
    assert detector.calls[0] == ((HEIGHT, WIDTH), 0.5 * tiling.CANDIDATE_RATIO, SIDE)
    assert detector.calls[1:] == [((640, 640), 0.5, 0)]  # one window, full resolution
    window_x, window_y = 3020 - 320, 1020 - 320  # centred on the candidate
    np.testing.assert_allclose(boxes[:, :4], [[100, 100, 500, 600],
                                              [318 + window_x, 302 + window_y, 358 + window_x, 342 + window_y]])
    np.testing.assert_allclose(kps[1, 0], [338 + window_x, 322 + window_y])


def test_small_images_take_one_pass():
    detector = ScriptedDetector()
    tiling.detect_with_refinement(detector, np.zeros((800, 1400, 3), np.uint8), 0.5, SIDE)
    assert detector.calls == [((800, 1400), 0.5, SIDE)]


def test_windows_are_shared_and_clamped_to_the_image():
    candidates = np.array([[10, 10, 30, 30, 0.3], [100, 120, 130, 150, 0.25], [3990, 1990, 3999, 1999, 0.3]])
    windows = tiling._windows_for(candidates, HEIGHT, WIDTH)
    assert windows == [(0, 0, 640, 640), (3360, 1360, 4000, 2000)]
