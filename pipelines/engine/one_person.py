"""Are several photos one person? The one test that identities built from photos and fused measurements share.

Each photo is compared with the most typical one: the photo with the smallest median distance to the others.
Judging against a photo rather than the mean keeps one stranger from pulling the reference towards itself,
and works for any distance (an identity model's, or face-shape differences when there is none).
"""

from __future__ import annotations

import numpy as np


def most_typical(distances: np.ndarray) -> int:
    """Index of the photo with the smallest median distance to the others; ``distances`` [N,N], N >= 2."""
    return int(np.argmin([np.median(np.delete(row, index)) for index, row in enumerate(distances)]))


def judge(distances: np.ndarray, threshold: float) -> tuple[int, np.ndarray, np.ndarray]:
    """(typical, to_typical [N], same [N] bool): the most typical photo, each photo's distance to it, and
    whether that distance is below ``threshold`` (the same person)."""
    typical = most_typical(distances) if len(distances) > 1 else 0
    to_typical = np.asarray(distances[typical], np.float64)  # [N]
    return typical, to_typical, to_typical < threshold
