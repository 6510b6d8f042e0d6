"""Faces chosen by who they are: a reference (photos or saved identities of one or more people), and
which faces of an image are those people.

A ``Reference`` holds one embedding per person, all in one embedding space. A face is one of the
reference people when its distance to the nearest of them is within the space's same-person
threshold (``embedding.same_person``). Faces are embedded in the reference's space; a face that
carries the detector's ArcFace embedding reuses it when the reference is in ArcFace's space.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.choices import PEOPLE
from ..core.errors import InvalidParameterError, NoFaceError
from . import embedding
from .detection.api import detect_faces, order_faces
from .embedding import EmbeddingSpace
from .face import Face


@dataclass(frozen=True, eq=False)  # equal only to itself: its arrays have no single truth value
class Reference:
    """People to look for: ``embeddings[i]`` (D,) is person ``labels[i]``, every one in ``space``."""

    space: EmbeddingSpace
    embeddings: tuple[np.ndarray, ...]
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.embeddings:
            raise InvalidParameterError("a reference needs at least one person (a photo or a saved identity)")
        if len(self.labels) != len(self.embeddings):
            raise InvalidParameterError("a reference needs one label per person")

    def describe(self) -> dict:
        """JSON-able: who is looked for, and with which model."""
        return {"people": list(self.labels), "model": self.space.describe()}


def face_embedding(image: np.ndarray, face: Face, space: EmbeddingSpace) -> np.ndarray:
    """(D,) embedding of ``face`` in ``space``: the detector's ArcFace embedding when it is that space's, else
    computed."""
    if space == embedding.ARCFACE and face.embedding is not None and face.embedding.size == space.dimension:
        return face.embedding
    return embedding.embed(image, face, space)


def chosen_face(image: np.ndarray, face_index: int | None = None, faces: list[Face] | None = None,
                what: str = "reference photo") -> Face:
    """One face of a photo: ``face_index`` in largest-first order, by default the largest one; ``faces``
    are the photo's detected faces (detected here when None); ``what`` names the photo in errors."""
    found = order_faces(detect_faces(image) if faces is None else list(faces), "largest")
    if not found:
        raise NoFaceError(f"no face was found in the {what}: use a photo where the person's face is clear")
    index = 0 if face_index is None else int(face_index)
    if not 0 <= index < len(found):
        raise InvalidParameterError(
            f"face index {index} of the {what} does not exist: it has {len(found)} face(s), "
            f"numbered 0 to {len(found) - 1} from the largest")
    return found[index]


def from_photos(images: list[np.ndarray], space: EmbeddingSpace, face_index: int | None = None,
                labels: list[str] | None = None) -> Reference:
    """One person per photo (uint8 RGB [H,W,3]): its largest face, or the face at ``face_index``."""
    embeddings = tuple(face_embedding(image, chosen_face(image, face_index), space) for image in images)
    labels = labels or [f"reference photo {number}" for number in range(len(images))]
    return Reference(space, embeddings, tuple(labels))


def distances(image: np.ndarray, faces: list[Face], reference: Reference) -> np.ndarray:
    """[N] distance of each face to the nearest reference person, in the reference's space."""
    result = np.empty(len(faces), np.float64)
    for index, face in enumerate(faces):
        vector = face_embedding(image, face, reference.space)
        result[index] = min(embedding.distance(vector, person, reference.space) for person in reference.embeddings)
    return result


def matches(image: np.ndarray, faces: list[Face], reference: Reference) -> list[bool]:
    """For each face: is it one of the reference people?"""
    return [embedding.same_person(value, reference.space) for value in distances(image, faces, reference)]


def acted_on(image: np.ndarray, faces: list[Face], reference: Reference | None,
             mode: str) -> tuple[list[bool], np.ndarray]:
    """For each face: is it acted on under ``mode`` (``PEOPLE``: everyone, everyone_except the reference
    people, only them), and [N] its distance to the nearest reference person (NaN for ``everyone``)."""
    if mode not in PEOPLE:
        raise InvalidParameterError(f"people '{mode}' is unknown; choose {', '.join(PEOPLE)}")
    if mode == "everyone":
        return [True] * len(faces), np.full(len(faces), np.nan)
    if reference is None:
        raise InvalidParameterError(f"people '{mode}' needs a reference: a photo or saved identity of each person")
    values = distances(image, faces, reference)  # [N]
    return [acts_on(embedding.same_person(value, reference.space), mode) for value in values], values


def acts_on(is_reference_person: bool, mode: str) -> bool:
    """Whether a face is acted on under ``mode``, given whether it is one of the reference people."""
    return mode == "everyone" or is_reference_person == (mode == "only")


def closest(image: np.ndarray, faces: list[Face], candidates: list[int],
            reference: Reference) -> tuple[int, float]:
    """The index (among ``candidates``) of the face nearest to any reference person, and its distance."""
    if not candidates:
        raise NoFaceError("no candidate face to compare with the reference")
    values = distances(image, [faces[index] for index in candidates], reference)  # [N]
    nearest = int(np.argmin(values))
    return candidates[nearest], float(values[nearest])
