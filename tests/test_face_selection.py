"""Selecting faces by index list, size, count and order."""

from __future__ import annotations

import pytest

from playalter.pipelines.core.errors import InvalidParameterError
from playalter.pipelines.engine.face import Face
from playalter.pipelines.engine.selection import parse_indices, select_faces


def _face(x: float, y: float, side: float, score: float = 0.9) -> Face:
    kps = [[x + 0.3 * side, y + 0.4 * side], [x + 0.7 * side, y + 0.4 * side], [x + 0.5 * side, y + 0.6 * side],
           [x + 0.35 * side, y + 0.8 * side], [x + 0.65 * side, y + 0.8 * side]]
    return Face(bbox=[x, y, x + side, y + side], score=score, kps=kps)


FACES = [_face(300, 10, 100, 0.7), _face(10, 200, 40, 0.99), _face(150, 50, 60, 0.8)]  # largest first


@pytest.mark.parametrize("text, expected", [("", []), ("0,2", [0, 2]), (" 2, 0 ,", [2, 0]), ("1,1,3", [1, 3])])
def test_parse_indices(text, expected):
    assert parse_indices(text) == expected


@pytest.mark.parametrize("text", ["a", "0;2", "-1", "1.5", "0,,x"])
def test_parse_indices_rejects_bad_syntax(text):
    with pytest.raises(InvalidParameterError, match="comma-separated numbers"):
        parse_indices(text)


def test_indices_pick_in_the_given_order():
    assert select_faces(FACES, "2,0") == [FACES[2], FACES[0]]


def test_out_of_range_index_says_how_many_faces_there_are():
    with pytest.raises(InvalidParameterError, match="index 5 does not exist: this image has 3 face"):
        select_faces(FACES, "0,5")
    with pytest.raises(InvalidParameterError, match="no face was detected"):
        select_faces([], "0")


def test_order_applies_before_indices():
    assert select_faces(FACES, "0", order="left_to_right") == [FACES[1]]
    assert select_faces(FACES, "0", order="confidence") == [FACES[1]]
    assert select_faces(FACES, "0", order="largest") == [FACES[0]]
    with pytest.raises(InvalidParameterError, match="unknown face order"):
        select_faces(FACES, order="smallest")


def test_min_size_and_max_count():
    assert select_faces(FACES, min_size=50) == [FACES[0], FACES[2]]
    assert select_faces(FACES, max_count=2) == [FACES[0], FACES[1]]
    assert select_faces(FACES, min_size=50, max_count=1, order="left_to_right") == [FACES[2]]
    assert select_faces(FACES, min_size=1000) == []
    with pytest.raises(InvalidParameterError):
        select_faces(FACES, max_count=-1)
