"""Hide every face of one image: per face, shape its mask, compute the effect, composite exactly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.errors import ImageValidationError, InvalidParameterError
from ..engine.face import Face
from . import effects, geometry, strength, synthetic
from .options import PrivacyOptions


@dataclass
class Anonymized:
    image: np.ndarray  # uint8 [H,W,3] RGB, faces hidden
    mask: np.ndarray  # float32 [H,W] 0..1, union of the face masks
    faces: list[dict]  # per face: index, bbox, mask sources, type, strength, coverage, effect parameters


WIDTH_PER_HEIGHT = 0.75  # a detector's face box is about 3/4 as wide as it is high


def effect_scale(face: Face) -> float:
    """The face width the effects scale with (blur sigma, pixel blocks): the box's width, or 3/4 of its
    height when that is more. A face cut by the frame's side edge keeps its height, so its visible sliver
    is blurred or pixelated as coarsely as the whole face would be, not by the sliver's own width."""
    return max(face.width, WIDTH_PER_HEIGHT * face.height, 1.0)


def check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        described = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ImageValidationError(f"privacy masks need a uint8 RGB image [H,W,3], got {described}")
    return image


def _per_face(values, count: int, what: str) -> list:
    if values is None:
        return [None] * count
    values = list(values)
    if len(values) != count:
        raise InvalidParameterError(f"{what} has {len(values)} entries for {count} faces: give one per face")
    return values


def anonymize(image: np.ndarray, faces: list[Face], options: PrivacyOptions, fits=None,
              per_face: list[PrivacyOptions] | None = None) -> Anonymized:
    """Hide ``faces`` in ``image``. ``fits``: optional FLAME fits parallel to ``faces`` (None entries allowed);
    ``per_face``: optional options per face overriding ``options`` (the audit's auto-strengthening uses it)."""
    check_image(image)
    fits = _per_face(fits, len(faces), "FLAME fits")
    plans = [options if plan is None else plan for plan in _per_face(per_face, len(faces), "per-face options")]
    if any(plan.mask_type == "synthetic" for plan in plans):
        synthetic.require_models(faces)
    output = image.copy()
    masks: list[geometry.FaceMask | None] = []
    report: list[dict] = []
    for index, (face, fit, plan) in enumerate(zip(faces, fits, plans)):
        mask = geometry.face_mask(image.shape, face, plan.shape, fit)
        masks.append(mask)
        params = strength.parameters(plan.mask_type, plan.strength)
        report.append({
            "index": index,
            "bbox": [round(float(value), 1) for value in face.bbox],
            "sources": list(mask.sources) if mask else [],
            "mask_type": plan.mask_type,
            "strength": plan.strength,
            "coverage": plan.coverage,
            "params": {name: round(value, 4) for name, value in params.items()},
        })
        if mask is None:
            continue
        rows, cols = mask.region
        rng = np.random.default_rng([plan.seed, index])
        if plan.mask_type == "synthetic":
            original = synthetic.original_embedding(image, face)  # (512,)
            identity = synthetic.synthetic_identity(original, params["max_cosine"], rng)
            replacement = synthetic.swap_region(output, face, (rows, cols), identity, params["opacity"])
        else:
            job = effects.EffectJob(
                face_width=effect_scale(face),
                grid_origin=(float(face.bbox[0]) - mask.x0, float(face.bbox[1]) - mask.y0),
                params=params, rng=rng, color=plan.color,
            )
            replacement = effects.EFFECTS[plan.mask_type](output[rows, cols], job)
        effects.composite(output[rows, cols], replacement, mask.alpha)
    return Anonymized(output, geometry.union(image.shape, masks), report)
