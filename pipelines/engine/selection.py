"""Choosing faces: by index list ("0,2"), minimum size, maximum count and order."""

from __future__ import annotations

from ..core.choices import ORDERS
from ..core.errors import InvalidParameterError
from .detection.api import order_faces
from .face import Face


def parse_indices(text: str) -> list[int]:
    """"0,2" -> [0, 2]; "" -> []. Whitespace is ignored; duplicates keep their first place."""
    indices: list[int] = []
    for part in str(text).replace(" ", "").split(","):
        if part == "":
            continue
        if not part.isdigit():
            raise InvalidParameterError(
                f"face indices '{text}' are not valid: use comma-separated numbers counted from 0, e.g. \"0,2\""
            )
        if int(part) not in indices:
            indices.append(int(part))
    return indices


def select_faces(faces: list[Face], indices: str = "", min_size: float = 0, max_count: int = 0,
                 order: str | None = None) -> list[Face]:
    """Faces of one image: re-ordered (when ``order`` is given), then the listed indices (all when
    empty), then those whose size (geometric mean of box sides, px) is at least ``min_size``,
    then at most ``max_count`` of them (0 = no limit)."""
    if min_size < 0 or max_count < 0:
        raise InvalidParameterError("min_size and max_count must be 0 or more")
    if order is not None and order not in ORDERS:
        raise InvalidParameterError(f"unknown face order '{order}'; choose one of {', '.join(ORDERS)}")
    chosen = order_faces(faces, order) if order else list(faces)
    wanted = parse_indices(indices)
    if wanted:
        missing = [index for index in wanted if index >= len(chosen)]
        if missing:
            raise InvalidParameterError(
                f"face index {missing[0]} does not exist: this image has {len(chosen)} face(s), "
                f"numbered 0 to {len(chosen) - 1}" if chosen else
                f"face index {missing[0]} does not exist: no face was detected in this image"
            )
        chosen = [chosen[index] for index in wanted]
    chosen = [face for face in chosen if face.size >= min_size]
    return chosen[:max_count] if max_count else chosen
