"""Who is this face? The one place that decides which identity model embeds faces, and how two
embeddings compare.

An ``EmbeddingSpace`` is one identity model's vectors: their size, how two are compared, and the
distance below which two faces are taken as one person. Two spaces exist:

- ``arcface_w600k_r50``: ArcFace from insightface's buffalo_l (``recognition.py``), 512 values,
  L2-normalised, compared by cosine distance (1 - cosine similarity). Preferred when buffalo_l is
  installed; its licence is non-commercial research only.
- ``dlib_resnet_v1``: dlib's ResNet descriptor (``dlib_descriptor.py``), 128 values, compared by
  Euclidean distance. Public domain; the ``identity`` model, fetched on first use; needs dlib.

Thresholds (``same_person_distance``), both published values, not tuned here: dlib's 0.6 is the
radius its network was trained to keep each person's faces within (dlib-models README, LFW 99.38 %);
ArcFace's 0.68 cosine distance is the verification threshold the deepface library publishes for
ArcFace (tuned there on LFW for its own ArcFace weights, the same loss and embedding geometry).

Embeddings of different spaces are never compared: ``distance`` refuses vectors of the wrong size
and ``require_same_space`` refuses identities recorded in another space.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import models
from ..core.choices import IDENTITY_MODELS
from ..core.errors import DependencyMissingError, InvalidParameterError
from ..models import buffalo
from ..models.download import ensure
from . import dlib_descriptor, recognition
from .face import Face

PREFERENCES = IDENTITY_MODELS  # what resolve_space takes


@dataclass(frozen=True)
class EmbeddingSpace:
    """One identity model's embeddings: ``dimension`` values, compared by ``metric`` ("cosine" or
    "euclidean"); two faces closer than ``same_person_distance`` are taken as one person."""

    name: str
    dimension: int
    metric: str
    same_person_distance: float
    licence: str

    def describe(self) -> dict:
        """The model an answer names: space name, metric, threshold and licence."""
        return {"name": self.name, "metric": self.metric, "threshold": self.same_person_distance,
                "licence": self.licence}


ARCFACE = EmbeddingSpace("arcface_w600k_r50", 512, "cosine", 0.68, models.get_spec("buffalo_l").licence)
DLIB = EmbeddingSpace("dlib_resnet_v1", 128, "euclidean", 0.6, models.get_spec(dlib_descriptor.MODEL).licence)
SPACES = {space.name: space for space in (ARCFACE, DLIB)}
_FORMER_NAMES = {"arcface": ARCFACE.name}  # identity files written before spaces were recorded


def space_named(name: str) -> EmbeddingSpace:
    """The space a stored identity names (``"arcface"``, from older files, is ArcFace)."""
    space = SPACES.get(_FORMER_NAMES.get(name, name))
    if space is None:
        raise InvalidParameterError(f"unknown embedding space '{name}'; known: {', '.join(SPACES)}")
    return space


def resolve_space(prefer: str = "auto") -> EmbeddingSpace:
    """The space to embed with: ``"auto"`` = ArcFace when buffalo_l is installed, else dlib;
    ``"arcface"`` or ``"dlib"`` force one. A missing model or a missing dlib is a clear error that
    names the fix (the dlib model is fetched here on first use)."""
    if prefer not in IDENTITY_MODELS:
        raise InvalidParameterError(f"identity model '{prefer}' is unknown; choose {', '.join(IDENTITY_MODELS)}")
    if prefer == "arcface" or (prefer == "auto" and buffalo.is_available()):
        buffalo.paths(recognition.FEATURE)  # ModelMissingError naming buffalo_l when absent
        return ARCFACE
    if not dlib_descriptor.is_installed():
        also = "" if prefer == "dlib" else "; or install insightface's buffalo_l to use ArcFace"
        raise DependencyMissingError(
            f"{dlib_descriptor.FEATURE} needs the Python package dlib, which is not installed; install it "
            f"with: {dlib_descriptor.INSTALL_HINT}, then 'playalter models fetch identity'{also}"
        )
    ensure(dlib_descriptor.MODEL, dlib_descriptor.FEATURE)
    return DLIB


def embed(image_rgb: np.ndarray, face: Face, space: EmbeddingSpace, device: str = "auto") -> np.ndarray:
    """(D,) float32 embedding of ``face`` in the uint8 RGB image [H,W,3], D = ``space.dimension``."""
    if space == ARCFACE:
        return recognition.embed(image_rgb, face, device)
    if space == DLIB:
        return dlib_descriptor.embed(image_rgb, face)
    raise InvalidParameterError(f"no model embeds faces in the space '{space.name}'")


def _checked(vector, space: EmbeddingSpace, what: str) -> np.ndarray:
    array = np.asarray(vector, dtype=np.float64).reshape(-1)  # (D,)
    if array.shape != (space.dimension,):
        raise InvalidParameterError(
            f"the {what} embedding has {array.size} values, not the {space.dimension} of {space.name}: "
            "embeddings of different identity models cannot be compared"
        )
    return array


def distance(first, second, space: EmbeddingSpace) -> float:
    """Distance of two embeddings of ``space``: 1 - cosine similarity (0..2), or Euclidean (>= 0)."""
    a, b = _checked(first, space, "first"), _checked(second, space, "second")
    if space.metric == "cosine":
        denominator = float(np.linalg.norm(a) * np.linalg.norm(b))
        return 1.0 - (float(np.dot(a, b)) / denominator if denominator > 0 else 0.0)
    return float(np.linalg.norm(a - b))


def same_person(distance: float, space: EmbeddingSpace) -> bool:  # noqa: F811 (the value, not the function)
    """True when ``distance`` is within the space's same-person threshold."""
    return float(distance) < space.same_person_distance


def require_same_space(first: str, second: str) -> None:
    """Refuse to compare identities recorded in two different spaces (names as ``space_named`` reads)."""
    if space_named(first) != space_named(second):
        raise InvalidParameterError(
            f"an identity in the space '{space_named(first).name}' cannot be compared with one in "
            f"'{space_named(second).name}': their embeddings come from different models; rebuild one of them "
            "with the other's model"
        )
