"""Who is hidden: everyone (the default), everyone except the reference people, or only them.

"Everyone except" keeps people visible who consented (a reference photo or saved identity of each);
"only" hides one person and leaves the rest. Each detected face is embedded in the reference's space
and compared with the nearest reference person (``engine/reference.py``): within the space's
same-person threshold it is that person. Faces kept visible are reported, and the audit's
auto-strengthen never hides them (``full_pass.protect``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.choices import PEOPLE
from ..core.errors import InvalidParameterError
from ..engine import reference as references
from ..engine.face import Face
from ..engine.reference import Reference


@dataclass(frozen=True)
class People:
    """``mode``: everyone | everyone_except | only; ``reference``: the people it names (not for everyone)."""

    mode: str = "everyone"
    reference: Reference | None = None

    def __post_init__(self) -> None:
        if self.mode not in PEOPLE:
            raise InvalidParameterError(f"people '{self.mode}' is unknown; choose {', '.join(PEOPLE)}")
        if self.mode != "everyone" and self.reference is None:
            raise InvalidParameterError(
                f"people '{self.mode}' needs a reference: a photo or saved identity of each person to "
                f"{'keep visible' if self.mode == 'everyone_except' else 'hide'}")


EVERYONE = People()


@dataclass(frozen=True)
class Split:
    hidden: list[int]  # indices of the faces to hide
    kept: list[int]  # indices of the faces left visible
    report: dict  # JSON-able: the mode, the reference and each face's distance and choice


def split(image: np.ndarray, faces: list[Face], people: People) -> Split:
    """Which of ``faces`` (in the uint8 RGB image [H,W,3]) to hide and which to keep."""
    if people.mode == "everyone":
        return Split(list(range(len(faces))), [], {"mode": "everyone"})
    hide, distances = references.acted_on(image, faces, people.reference, people.mode)  # [N] flags, [N] distances
    entries = [{"index": index, "bbox": [round(float(value), 1) for value in face.bbox],
                "distance": round(float(distance), 4), "hidden": hidden}
               for index, (face, distance, hidden) in enumerate(zip(faces, distances, hide))]
    report = {"mode": people.mode, **people.reference.describe(), "faces": entries}
    return Split([index for index, flag in enumerate(hide) if flag],
                 [index for index, flag in enumerate(hide) if not flag], report)
