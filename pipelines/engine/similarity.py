"""Face Similarity: is the face in one photo the same person as the face in another?

The answer names the distance, ``same_person`` at the model's stated threshold, and the model used with
its licence, so a caller can tell which model judged and under which terms.
"""

from __future__ import annotations

import numpy as np

from . import embedding
from .face import Face
from .reference import chosen_face, face_embedding


def compare_faces(image: np.ndarray, reference_image: np.ndarray, face_index: int | None = None,
                  reference_face_index: int | None = None, prefer: str = "auto",
                  faces: list[Face] | None = None, reference_faces: list[Face] | None = None) -> dict:
    """JSON-able comparison of one face of ``image`` with one of ``reference_image`` (uint8 RGB [H,W,3]):
    the largest face of each unless an index (largest first) says otherwise; faces are detected here
    unless given."""
    space = embedding.resolve_space(prefer)
    face = chosen_face(image, face_index, faces, "image")
    other = chosen_face(reference_image, reference_face_index, reference_faces, "reference image")
    distance = embedding.distance(face_embedding(image, face, space), face_embedding(reference_image, other, space),
                                  space)
    return {
        "distance": round(distance, 4),
        "same_person": embedding.same_person(distance, space),
        "threshold": space.same_person_distance,
        "metric": space.metric,
        "model": {"name": space.name, "licence": space.licence},
        "face": {"index": 0 if face_index is None else int(face_index),
                 "bbox": [round(float(value), 1) for value in face.bbox]},
        "reference_face": {"index": 0 if reference_face_index is None else int(reference_face_index),
                           "bbox": [round(float(value), 1) for value in other.bbox]},
    }
