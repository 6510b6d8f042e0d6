"""Video options and the probed description of a video, as data."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..core.errors import InvalidParameterError
from ..tracking import settings as tracking

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi")
CRF_CODECS = {"libx264": 51, "libx265": 51, "libvpx-vp9": 63, "libaom-av1": 63, "libsvtav1": 63}


@dataclass(frozen=True)
class VideoOptions:
    """How a video is processed and written.

    codec, crf, pixel_format, preset: the encoder (H.264, quality 20, yuv420p: plays everywhere)
    detect_every:     run the detector on every n-th frame, track in between (1 = every frame)
    lookahead_frames: frames held back so a face first detected at frame k is also masked before k
    keep_lost_frames: a face the detector loses keeps its predicted mask for this many frames
    smoothing:        0 (none) .. below 1: how much a track's box and landmarks are smoothed
    iou_match:        overlap of a detection with a track's predicted box that continues the track
    scene_cut:        histogram correlation of two frames below which tracks are reset (0 = never)
    full_every:       anonymisation: every pass of the privacy detection (full resolution and every overview)
                      runs on every n-th detected frame, only its smallest overview on the frames between;
                      keep it at most lookahead_frames + 1 so a face first found by a full pass is also
                      hidden on the frames before it (1 = every pass on every frame)
    dense:            MediaPipe dense landmarks (masks follow the face outline; slower)
    """

    codec: str = "libx264"
    crf: int = 20
    pixel_format: str = "yuv420p"
    preset: str = "veryfast"
    detect_every: int = 1
    lookahead_frames: int = tracking.LOOKAHEAD_FRAMES
    keep_lost_frames: int = tracking.KEEP_LOST_FRAMES
    smoothing: float = tracking.SMOOTHING
    iou_match: float = tracking.IOU_MATCH
    scene_cut: float = tracking.SCENE_CUT
    full_every: int = 3
    dense: bool = False

    def __post_init__(self) -> None:
        if self.codec in CRF_CODECS and not 0 <= self.crf <= CRF_CODECS[self.codec]:
            raise InvalidParameterError(f"crf for {self.codec} must be 0..{CRF_CODECS[self.codec]}, got {self.crf}")
        for name in ("detect_every", "full_every"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise InvalidParameterError(f"{name} must be 1 or more, got {getattr(self, name)!r}")
        for name in ("lookahead_frames", "keep_lost_frames"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise InvalidParameterError(f"{name} must be 0 or more, got {getattr(self, name)!r}")
        if not 0.0 <= self.smoothing < 1.0:
            raise InvalidParameterError(f"smoothing must be from 0 (none) to below 1, got {self.smoothing}")
        if not 0.0 < self.iou_match < 1.0:
            raise InvalidParameterError(f"iou_match must be between 0 and 1, got {self.iou_match}")
        if not 0.0 <= self.scene_cut < 1.0:
            raise InvalidParameterError(f"scene_cut must be from 0 (off) to below 1, got {self.scene_cut}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class VideoInfo:
    width: int  # as stored (before rotation)
    height: int
    fps: float  # average frame rate
    frames: int | None  # from the container; an estimate, None when unknown
    duration: float | None  # seconds
    rotation: int  # display rotation, degrees counter-clockwise (0, 90, 180, 270)
    has_audio: bool
    codec: str
    audio_codec: str | None
    container: str

    def to_dict(self) -> dict:
        return asdict(self)
