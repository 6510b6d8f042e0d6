"""Privacy options as data: one validated record that every entry point (library, node, CLI) builds."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..core.errors import InvalidParameterError
from ..core.quoting import quoted
from .geometry import Shape
from .strength import check_mask_type, check_strength


def parse_color(value) -> tuple[int, int, int]:
    """'#RRGGBB', 'RRGGBB' or an (r, g, b) triple of 0..255 -> (r, g, b)."""
    if isinstance(value, str):
        text = value.strip().lstrip("#")
        if len(text) == 6:
            try:
                return tuple(int(text[i:i + 2], 16) for i in (0, 2, 4))
            except ValueError:
                pass
        raise InvalidParameterError(f"color must look like '#RRGGBB' (hex), got {quoted(value)}")
    try:
        channels = tuple(int(channel) for channel in value)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"color must be '#RRGGBB' or three numbers 0..255, got {quoted(value)}") from None
    if len(channels) != 3 or not all(0 <= channel <= 255 for channel in channels):
        raise InvalidParameterError(f"color must be three numbers 0..255, got {quoted(value)}")
    return channels


@dataclass(frozen=True)
class PrivacyOptions:
    """How faces are hidden.

    mask_type: blur | pixelate | noise | solid | synthetic
    strength:  0 (light) .. 1 (complete); see strength.STRENGTH_TABLE
    coverage:  face | face_margin | head; margin and feather are fractions of the face size
    ears, neck: extend the mask over them
    seed:      noise and synthetic identities are reproducible for a given seed
    color:     solid fill colour (RGB)
    """

    mask_type: str = "blur"
    strength: float = 1.0
    coverage: str = "face_margin"
    margin: float = 0.2
    feather: float = 0.1
    ears: bool = False
    neck: bool = False
    seed: int = 0
    color: tuple[int, int, int] = (0, 0, 0)

    def __post_init__(self) -> None:
        check_mask_type(self.mask_type)
        object.__setattr__(self, "strength", check_strength(self.strength))
        object.__setattr__(self, "color", parse_color(self.color))
        if not isinstance(self.seed, int) or self.seed < 0:
            raise InvalidParameterError(f"seed must be a non-negative integer, got {quoted(self.seed)}")
        self.shape  # validates coverage, margin and feather

    @property
    def shape(self) -> Shape:
        return Shape(coverage=self.coverage, margin=self.margin, feather=self.feather, ears=self.ears, neck=self.neck)

    def with_strength(self, strength: float) -> "PrivacyOptions":
        return replace(self, strength=strength)

    def to_dict(self) -> dict:
        return {
            "mask_type": self.mask_type, "strength": self.strength, "coverage": self.coverage,
            "margin": self.margin, "feather": self.feather, "ears": self.ears, "neck": self.neck,
            "seed": self.seed, "color": "#%02x%02x%02x" % self.color,
        }
