"""Which source face goes onto which target face.

Modes:
- ``index``: source indices and target indices (``"0,2"``, ``"all"``) are
  paired in order; one source index goes onto every chosen target;
- ``order``: the i-th chosen source face goes onto the i-th chosen target face
  (faces are in the detector's order, e.g. left to right), as many as both have;
- ``identity``: the one source identity goes onto the chosen target face nearest
  to a reference person (a photo or a saved identity of the person to replace,
  ``engine/reference.py``), in the reference's embedding space, when that face is
  within the space's same-person distance; otherwise the person is not in the
  image and nothing is swapped (a frame of a video where they are absent keeps
  everyone else's face).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.errors import InvalidParameterError, NoFaceError
from ..engine import embedding
from ..engine import reference as references
from ..engine.face import Face
from ..engine.reference import Reference
from ..engine.selection import parse_indices
from .choices import PAIRING_MODES


def chosen_indices(text: str, count: int, side: str) -> list[int]:
    """``"0,2"`` -> [0, 2]; ``"all"`` or ``""`` -> every index below ``count``; out of range -> clear error."""
    if text.strip().lower() in ("", "all"):
        return list(range(count))
    indices = parse_indices(text)
    for index in indices:
        if index >= count:
            found = f"{count} face{'s' if count != 1 else ''} (indices 0 to {count - 1})" if count else "no face"
            raise InvalidParameterError(
                f"{side} face index {index} does not exist: the {side} image has {found}")
    return indices


@dataclass(frozen=True)
class Pair:
    source: int  # position in the list of chosen sources
    target: int  # index into the target image's faces
    reference_distance: float | None = None  # pairing identity: the target face's distance to the reference


def pair(source_count: int, target_faces: list[Face], mode: str, target_indices: str,
         reference: Reference | None = None, target_image: np.ndarray | None = None) -> list[Pair]:
    """Pairs (source position, target face index) for one target image (``target_image`` [H,W,3] uint8:
    mode ``identity`` embeds its faces)."""
    if mode not in PAIRING_MODES:
        raise InvalidParameterError(f"pairing mode '{mode}' is unknown; choose {', '.join(PAIRING_MODES)}")
    if source_count == 0:
        raise NoFaceError("no source face was found: use a source photo with a clearly visible face")
    if not target_faces:
        raise NoFaceError("no face was found in the target image, so there is nothing to swap onto")
    targets = chosen_indices(target_indices, len(target_faces), "target")
    if mode == "order":
        return [Pair(position, target) for position, target in enumerate(targets[:source_count])]
    if mode == "identity":
        target, distance = closest(target_image, target_faces, targets, reference)
        return [Pair(0, target, distance)] if embedding.same_person(distance, reference.space) else []
    if source_count == 1:
        return [Pair(0, target) for target in targets]
    if source_count != len(targets):
        raise InvalidParameterError(
            f"{source_count} source faces cannot be paired with {len(targets)} target faces: give as many target "
            "indices as source indices, a single source face, or use pairing mode 'order'"
        )
    return [Pair(position, target) for position, target in enumerate(targets)]


def closest(image: np.ndarray | None, faces: list[Face], candidates: list[int],
            reference: Reference | None) -> tuple[int, float]:
    """Index of the candidate face nearest to the reference person(s), and its distance."""
    if reference is None:
        raise InvalidParameterError("pairing mode 'identity' needs a reference photo or identity to look for")
    if image is None:
        raise InvalidParameterError("pairing mode 'identity' needs the target image to embed its faces")
    return references.closest(image, faces, candidates, reference)
