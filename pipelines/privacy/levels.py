"""Privacy levels: the same image anonymized at N evenly spaced strengths, in one call.

Level i of N (1-based) has strength top x i / N, where top is the options'
strength (1.0 by default, so the last level is complete). Names follow the
strength: up to 0.25 light, up to 0.5 medium, up to 0.75 strong, above that
complete; four levels up to 1.0 give exactly light / medium / strong / complete.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..core.errors import InvalidParameterError
from ..core.quoting import quoted
from ..engine.face import Face
from .choices import MAX_LEVELS
from .masking import anonymize
from .options import PrivacyOptions

_NAMES = ((0.25, "light"), (0.5, "medium"), (0.75, "strong"), (1.0, "complete"))


def level_strengths(levels: int, top: float = 1.0) -> list[float]:
    if isinstance(levels, bool) or not isinstance(levels, int) or not 1 <= levels <= MAX_LEVELS:
        raise InvalidParameterError(f"levels must be a whole number from 1 to {MAX_LEVELS}, got {quoted(levels)}")
    return [top * index / levels for index in range(1, levels + 1)]


def level_name(strength: float) -> str:
    return next(name for bound, name in _NAMES if strength <= bound + 1e-9)


def create_levels(image: np.ndarray, faces: list[Face], options: PrivacyOptions, levels: int = 4, fits=None,
                  on_level: Callable[[], None] | None = None) -> tuple[list[np.ndarray], list[np.ndarray], list[dict]]:
    """(images, masks, metadata): one uint8 [H,W,3] image and float32 [H,W] mask per level, weakest first.
    ``on_level`` is called after each level (progress, cancellation)."""
    images, masks, metadata = [], [], []
    for index, level_strength in enumerate(level_strengths(levels, options.strength), start=1):
        result = anonymize(image, faces, options.with_strength(level_strength), fits)
        changed = np.any(result.image != image, axis=2)  # [H,W]
        images.append(result.image)
        masks.append(result.mask)
        metadata.append({
            "level": index,
            "name": level_name(level_strength),
            "strength": round(level_strength, 4),
            "mask_type": options.mask_type,
            "faces": len(faces),
            "params": [face["params"] for face in result.faces],
            "changed_pixels": int(changed.sum()),
            "mean_abs_change": round(float(np.abs(result.image.astype(np.int16) - image).mean()), 4),
        })
        if on_level is not None:
            on_level()
    return images, masks, metadata
