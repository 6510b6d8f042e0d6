"""Landmark schemes mapped onto the iBUG-68 set the fitter uses."""

from __future__ import annotations

import numpy as np
import pytest

from playalter.pipelines.engine.face import Face
from playalter.pipelines.flame.schemes import GROUPS_106, from_5, from_106, to_ibug68


def _face_68() -> np.ndarray:
    """A frontal iBUG-68 face [68,2] in pixels (y down)."""
    points = np.zeros((68, 2))
    angles = np.linspace(np.pi, 0, 17)
    points[0:17] = np.stack([200 + 90 * np.cos(angles), 190 + 100 * np.sin(angles)], axis=1)
    points[17:22] = np.stack([np.linspace(130, 185, 5), [150, 144, 142, 144, 148]], axis=1)
    points[22:27] = np.stack([np.linspace(215, 270, 5), [148, 144, 142, 144, 150]], axis=1)
    points[27:31] = np.stack([[200] * 4, np.linspace(165, 215, 4)], axis=1)
    points[31:36] = np.stack([np.linspace(185, 215, 5), [225, 228, 230, 228, 225]], axis=1)
    eye = np.array([[0, 0], [8, -5], [18, -5], [26, 0], [18, 4], [8, 4]], dtype=float)
    points[36:42] = eye + [142, 172]
    points[42:48] = eye + [232, 172]
    outer = np.array([[170, 260], [180, 254], [192, 250], [200, 252], [208, 250], [220, 254], [230, 260],
                      [220, 268], [208, 272], [200, 273], [192, 272], [180, 268]], dtype=float)
    points[48:60] = outer
    points[60:68] = [[174, 260], [190, 258], [200, 259], [210, 258], [226, 260], [210, 262], [200, 263], [190, 262]]
    return points


def _dense_outline(points: np.ndarray, count: int, closed: bool) -> np.ndarray:
    path = np.vstack([points, points[:1]]) if closed else points
    lengths = np.concatenate([[0], np.cumsum(np.linalg.norm(np.diff(path, axis=0), axis=1))])
    targets = np.linspace(0, lengths[-1], count + (1 if closed else 0))[:count]
    return np.stack([np.interp(targets, lengths, path[:, axis]) for axis in range(2)], axis=1)


def _as_106(points: np.ndarray, rng) -> np.ndarray:
    """A 106-point markup with insightface's index groups, each group shuffled (order must not matter)."""
    groups = {
        "contour": _dense_outline(points[0:17], 33, closed=False),
        "eye_a": _dense_outline(points[42:48], 10, closed=True),  # image-right eye first: side is decided by x
        "brow_a": np.vstack([points[22:27], points[23:26] + [0, 6], (points[23] + points[24]) / 2 + [0, 6]]),
        "mouth": np.vstack([points[48:60], points[60:68]]),
        "nose": np.vstack([points[27:31], points[31:36], [[182, 205], [186, 214], [190, 219], [210, 219],
                                                          [214, 214], [218, 205]]]),
        "eye_b": _dense_outline(points[36:42], 10, closed=True),
        "brow_b": np.vstack([points[17:22], points[18:21] + [0, 6], (points[18] + points[19]) / 2 + [0, 6]]),
    }
    result = np.zeros((106, 2))
    for name, indices in GROUPS_106.items():
        result[list(indices)] = rng.permutation(groups[name])
    return result


def test_106_points_map_onto_the_68_set_whatever_their_order_inside_groups():
    truth = _face_68()
    points, weights = from_106(_as_106(truth, np.random.default_rng(0)))
    assert (weights[60:68] == 0).all() and (weights[:60] == 1).all()
    error = np.linalg.norm(points[:60] - truth[:60], axis=1)
    np.testing.assert_allclose(points[[36, 39, 42, 45, 48, 54]], truth[[36, 39, 42, 45, 48, 54]], atol=1.0)
    assert np.median(error) < 1.0 and error.max() < 3.0


def test_five_keypoints_and_3d_landmarks():
    truth = _face_68()
    kps = np.array([truth[36:42].mean(0), truth[42:48].mean(0), truth[30], truth[48], truth[54]])
    points, weights = from_5(kps)
    assert weights[30] == weights[48] == weights[54] == 1.0 and weights[:17].sum() == 0
    face = Face(bbox=np.array([100.0, 130, 300, 300]), score=0.9, kps=kps,
                landmarks_3d=np.hstack([truth, np.zeros((68, 1))]))
    mapped, mapped_weights = to_ibug68(face)
    np.testing.assert_allclose(mapped, truth, atol=1e-3)
    assert mapped_weights.min() == 1.0


def test_a_face_without_landmarks_is_refused():
    face = Face(bbox=np.array([0.0, 0, 10, 10]), score=0.9, kps=np.zeros((5, 2)))
    face.kps = None
    with pytest.raises(Exception, match="no landmarks"):
        to_ibug68(face)
