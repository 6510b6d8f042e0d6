"""The compatibility card: the compared faces, the verdict, one bar per factor sized and coloured by its score."""

from __future__ import annotations

import numpy as np
import pytest

from playalter.pipelines.engine.detection import detect_faces
from playalter.pipelines.swap import compatibility_card as card_module
from playalter.pipelines.swap.compatibility import compatibility
from playalter.pipelines.swap.compatibility_card import (BAR_LEFT, FACE_SIDE, HEADLINE_HEIGHT, MARGIN, ROW_HEIGHT,
                                                         draw_card, face_crop)


@pytest.fixture(scope="module")
def pair(t1_image, astronaut_image):
    source = detect_faces(astronaut_image)[0]
    target = detect_faces(t1_image, order="left_to_right")[1]
    return astronaut_image, source, t1_image, target


def _bar_row(card: np.ndarray, row: int) -> np.ndarray:
    """[W,3] the pixel row through the middle of factor ``row``'s bar."""
    top = MARGIN + FACE_SIDE + HEADLINE_HEIGHT + row * ROW_HEIGHT
    return card[top + 12]


def test_card_shows_both_faces(pair):
    source_image, source, target_image, target = pair
    result = compatibility(source_image, source, target_image, target)
    card = draw_card(source_image, source, target_image, target, result, threshold=50.0)
    right = 2 * MARGIN + FACE_SIDE
    below_label = slice(MARGIN + 40, MARGIN + FACE_SIDE)
    np.testing.assert_array_equal(card[below_label, MARGIN:MARGIN + FACE_SIDE],
                                  face_crop(source_image, source)[40:])
    np.testing.assert_array_equal(card[below_label, right:right + FACE_SIDE], face_crop(target_image, target)[40:])


def test_bars_follow_scores_and_colours(pair):
    source_image, source, target_image, target = pair
    result = compatibility(source_image, source, target_image, target)
    factors = result["factors"]
    factors["pose"]["score"], factors["size"]["score"], factors["shape"]["score"] = 0.9, 0.6, 0.2
    factors["skin_tone"]["score"] = None
    card = draw_card(source_image, source, target_image, target, result, threshold=50.0)
    names = list(factors)
    bar_right = card.shape[1] - MARGIN - 110
    for name, colour in (("pose", card_module.GOOD), ("size", card_module.FAIR), ("shape", card_module.POOR)):
        row = _bar_row(card, names.index(name))
        filled = np.flatnonzero(np.all(row == colour, axis=1))
        expected_end = BAR_LEFT + round(factors[name]["score"] * (bar_right - BAR_LEFT))
        assert filled.min() == BAR_LEFT and abs(filled.max() - expected_end) <= 1
    empty = _bar_row(card, names.index("skin_tone"))[BAR_LEFT + 2:bar_right - 2]
    assert np.all(empty == card_module.BACKGROUND)
