"""Synthetic face: swap each face to a made-up identity far from the original.

The synthetic identity is built, not sampled blindly: a seeded random
direction is made orthogonal to the original's ArcFace embedding e, then
mixed with e so that its cosine to e is EXACTLY ``max_cosine`` (0.10 at
strength 0 down to -0.10 at strength 1; see strength.py). ArcFace same-person
pairs typically score above 0.3, so the identity rendered is, as far as ArcFace
can tell, someone else. InSwapper (``pipelines.swap.inswapper``) renders it
onto the face; the privacy mask then composites it like any other effect.
"""

from __future__ import annotations

import cv2
import numpy as np

from .. import models
from ..engine import recognition
from ..engine.face import Face

FEATURE = "synthetic-face privacy"
COSINE_BOUND = 0.10  # the synthetic identity's cosine to the original never exceeds this


def synthetic_identity(original: np.ndarray, cosine: float, rng: np.random.Generator) -> np.ndarray:
    """(512,) unit vector whose cosine to ``original`` (512,) is exactly ``cosine``."""
    direction = np.asarray(original, np.float64) / np.linalg.norm(original)
    random = rng.standard_normal(direction.shape)
    orthogonal = random - (random @ direction) * direction
    orthogonal /= np.linalg.norm(orthogonal)
    identity = cosine * direction + np.sqrt(1.0 - cosine**2) * orthogonal
    return identity.astype(np.float32)


def require_models(faces: list[Face]) -> None:
    """ModelMissingError (naming the feature and the paths searched) unless InSwapper, and ArcFace for
    faces that carry no embedding, are installed."""
    models.resolve("inswapper_128", FEATURE)
    if any(face.embedding is None for face in faces):
        models.resolve("buffalo_l", FEATURE)


def original_embedding(image: np.ndarray, face: Face) -> np.ndarray:
    """The face's ArcFace embedding: the one it carries (buffalo_l detection), else computed now."""
    return face.embedding if face.embedding is not None else recognition.embed(image, face)


def swap_region(image: np.ndarray, face: Face, region: tuple[slice, slice], identity: np.ndarray,
                opacity: float) -> np.ndarray:
    """The region (uint8 [h,w,3]) of ``image`` with the face rendered as ``identity``.

    The rendering fades out over a few pixels at the border of the aligned crop, so the
    square crop edge never shows; ``opacity`` scales it.
    """
    from ..swap import inswapper

    patch = inswapper.swap(inswapper.load(models.resolve("inswapper_128", FEATURE)[0]), image, face, identity)
    rows, cols = region
    output = image[rows, cols].copy()  # [h,w,3]
    height, width = patch.valid.shape
    # the patch and the region overlap in image pixels [top:bottom, left:right]
    top, left = max(rows.start, patch.y0), max(cols.start, patch.x0)
    bottom, right = min(rows.stop, patch.y0 + height), min(cols.stop, patch.x0 + width)
    if bottom <= top or right <= left:
        return output
    fade = max(1.0, 0.03 * face.width)
    inside = cv2.distanceTransform(patch.valid.astype(np.uint8), cv2.DIST_L2, 3)  # [h,w] px to the crop edge
    weight = np.clip(inside / fade, 0.0, 1.0) * opacity  # [h,w]
    in_patch = (slice(top - patch.y0, bottom - patch.y0), slice(left - patch.x0, right - patch.x0))
    in_output = (slice(top - rows.start, bottom - rows.start), slice(left - cols.start, right - cols.start))
    base = output[in_output].astype(np.float32)
    rendered = patch.image[in_patch].astype(np.float32)
    output[in_output] = np.rint(base + (rendered - base) * weight[in_patch][..., None]).astype(np.uint8)
    return output
