"""Swap report: how much the output face looks like the source and like the original target.

Needs ArcFace (``pipelines.recognition``); without it the similarities are
``None`` and the report says why. The output face is embedded at the target
face's keypoints (a swap keeps the target's geometry, so they still hold).
"""

from __future__ import annotations

import numpy as np

from ..engine.face import Face
from . import identity


def similarities(output_image: np.ndarray, target_image: np.ndarray, target_face: Face,
                 source_embedding: np.ndarray | None) -> dict:
    """{"to_source": cos, "to_target": cos} (cosine similarities -1..1), or None values with a reason."""
    if source_embedding is None or not identity.recognition_available():
        return {"to_source": None, "to_target": None,
                "note": "similarities need the ArcFace model (buffalo_l); it is not installed"}
    swapped = identity.embed(output_image, _geometry_only(target_face))
    original = identity.embedding_of(target_image, target_face)
    return {
        "to_source": round(float(swapped @ source_embedding), 4),
        "to_target": round(float(swapped @ original), 4),
    }


def _geometry_only(face: Face) -> Face:
    """The face without its stored embedding, so the output face gets embedded afresh."""
    return Face(bbox=face.bbox, score=face.score, kps=face.kps)
