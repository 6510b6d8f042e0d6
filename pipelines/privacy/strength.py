"""Strength 0..1 -> size-relative effect parameters, one row per mask type.

Every parameter is relative to the face (its width, in pixels), so a given
strength hides a 40-pixel face and a 400-pixel face alike. Each parameter is
interpolated between its value at strength 0 and at strength 1: linearly, or
geometrically for counts (pixelate blocks), where equal strength steps should
feel like equal steps.

At strength 1.0 every type is past the bounds this project adopts from the
de-identification literature: Gaussian blur sigma >= 0.2 x face width and
pixelation with at most 8 blocks across the face (milder blur and mosaics are
known to be beaten by recognisers: Newton, Sweeney & Malin 2005; McPherson,
Shokri & Shmatikov 2016). Noise and solid fill at 1.0 replace the face.

docs/privacy.md prints this table.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.errors import InvalidParameterError
from ..core.quoting import quoted
from .choices import MASK_TYPES


@dataclass(frozen=True)
class Parameter:
    """One effect parameter: its value at strength 0 and 1 and how to go between them."""

    name: str
    at_zero: float
    at_one: float
    meaning: str
    geometric: bool = False

    def at(self, strength: float) -> float:
        if self.geometric:
            return float(self.at_zero * (self.at_one / self.at_zero) ** strength)
        return float(self.at_zero + (self.at_one - self.at_zero) * strength)


STRENGTH_TABLE: dict[str, tuple[Parameter, ...]] = {
    "blur": (
        Parameter("sigma_fraction", 0.02, 0.25, "Gaussian sigma / face width"),
    ),
    "pixelate": (
        Parameter("blocks", 24.0, 6.0, "blocks across the face width (block mean)", geometric=True),
    ),
    "noise": (
        Parameter("mix", 0.3, 1.0, "share of noise in the result (1 = face replaced by noise)"),
        Parameter("cells", 32.0, 12.0, "noise cells across the face width", geometric=True),
        Parameter("sigma_fraction", 0.01, 0.08, "blur of the face under the noise / face width"),
    ),
    "solid": (
        Parameter("opacity", 0.6, 1.0, "opacity of the colour fill"),
    ),
    "synthetic": (
        Parameter("max_cosine", 0.10, -0.10, "cosine of the synthetic identity to the original's ArcFace embedding"),
        Parameter("opacity", 0.85, 1.0, "opacity of the swapped face over the original"),
    ),
}



def check_strength(strength: float) -> float:
    try:
        value = float(strength)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"strength must be a number from 0 to 1, got {quoted(strength)}") from None
    if not 0.0 <= value <= 1.0:
        raise InvalidParameterError(f"strength must be from 0 (light) to 1 (complete), got {quoted(strength)}")
    return value


def check_mask_type(mask_type: str) -> str:
    if mask_type not in STRENGTH_TABLE:
        raise InvalidParameterError(f"unknown mask type '{mask_type}'; choose one of {', '.join(MASK_TYPES)}")
    return mask_type


def parameters(mask_type: str, strength: float) -> dict[str, float]:
    """The effect parameters of one type at one strength, e.g. {"sigma_fraction": 0.25}."""
    check_mask_type(mask_type)
    strength = check_strength(strength)
    return {parameter.name: parameter.at(strength) for parameter in STRENGTH_TABLE[mask_type]}
