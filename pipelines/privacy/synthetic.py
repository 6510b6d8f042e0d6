"""Synthetic face: swap each face to a made-up identity far from the original.

The synthetic identity is built, not sampled blindly: a seeded random
direction is made orthogonal to the original's ArcFace embedding e, then
mixed with e so that its cosine to e is EXACTLY ``max_cosine`` (0.10 at
strength 0 down to -0.10 at strength 1; see strength.py). Same-person ArcFace
pairs score well above 0.3, so the synthetic identity is never the original
person as far as ArcFace is concerned. InSwapper then renders that identity
onto the face.

The InSwapper use here is a deliberately thin, isolated one (aligned 128 crop,
``source`` latent = embedding @ emap, paste back): see ``_InSwapper``.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import cv2
import numpy as np

from .. import align, models, onnx_runtime
from ..face import Face

logger = logging.getLogger(__name__)

FEATURE = "synthetic-face privacy"
COSINE_BOUND = 0.10  # the synthetic identity's cosine to the original never exceeds this
_CROP = 128


def synthetic_identity(original: np.ndarray, cosine: float, rng: np.random.Generator) -> np.ndarray:
    """(512,) unit vector whose cosine to ``original`` (512,) is exactly ``cosine``."""
    direction = np.asarray(original, np.float64) / np.linalg.norm(original)
    random = rng.standard_normal(direction.shape)
    orthogonal = random - (random @ direction) * direction
    orthogonal /= np.linalg.norm(orthogonal)
    identity = cosine * direction + np.sqrt(1.0 - cosine**2) * orthogonal
    return identity.astype(np.float32)


def require_models(faces: list[Face]) -> None:
    """ModelMissingError (naming what to install) unless InSwapper, and ArcFace where needed, are present."""
    models.resolve("inswapper_128", FEATURE)
    if any(face.embedding is None for face in faces):
        models.resolve("buffalo_l", FEATURE)


def original_embedding(image: np.ndarray, face: Face) -> np.ndarray:
    """The face's ArcFace embedding: the one it carries, else computed with the recognition model."""
    if face.embedding is not None:
        return face.embedding
    from .. import recognition

    return recognition.embed(image, face)


class _InSwapper:
    """inswapper_128.onnx: target [1,3,128,128] RGB 0..1, source [1,512] latent; emap is the last initializer."""

    def __init__(self, path: str):
        import onnx
        from onnx import numpy_helper

        graph = onnx.load(path).graph
        self.emap = numpy_helper.to_array(graph.initializer[-1]).astype(np.float32)  # [512,512]
        self.session = onnx_runtime.session(path)

    def render(self, crop: np.ndarray, identity: np.ndarray) -> np.ndarray:
        """uint8 [128,128,3] aligned crop -> uint8 [128,128,3] with the identity's face."""
        latent = identity.reshape(1, -1) @ self.emap  # [1,512]
        latent /= np.linalg.norm(latent)
        target = (crop.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]  # [1,3,128,128]
        output = self.session.run(None, {"target": target, "source": latent.astype(np.float32)})[0]
        return np.clip(output[0].transpose(1, 2, 0) * 255.0, 0, 255).astype(np.uint8)


@lru_cache(maxsize=2)
def _swapper(path: str) -> _InSwapper:
    return _InSwapper(path)


def swap_region(image: np.ndarray, face: Face, region: tuple[slice, slice], identity: np.ndarray,
                opacity: float) -> np.ndarray:
    """The region (uint8 [h,w,3]) of ``image`` with the face swapped to ``identity``."""
    swapper = _swapper(str(models.resolve("inswapper_128", FEATURE)[0]))
    crop, matrix = align.crop(image, face.kps, _CROP)  # [128,128,3], 2x3 image -> crop
    rendered = swapper.render(crop, identity)
    rows, cols = region
    to_region = cv2.invertAffineTransform(matrix)
    to_region[:, 2] -= (cols.start, rows.start)  # crop -> region pixels
    size = (cols.stop - cols.start, rows.stop - rows.start)
    pasted = cv2.warpAffine(rendered, to_region, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inside = np.full((_CROP, _CROP), 255, np.uint8)
    cv2.rectangle(inside, (0, 0), (_CROP - 1, _CROP - 1), 0, thickness=6)  # fade out the crop border
    weight = cv2.warpAffine(inside, to_region, size, flags=cv2.INTER_LINEAR)  # [h,w]
    weight = cv2.GaussianBlur(weight, (0, 0), sigmaX=max(1.0, 0.03 * face.width)).astype(np.float32) / 255.0
    weight = (weight * opacity)[..., None]  # [h,w,1]
    original = image[rows, cols].astype(np.float32)
    return np.clip(original + (pasted.astype(np.float32) - original) * weight, 0, 255).astype(np.uint8)
