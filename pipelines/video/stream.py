"""The streaming pass shared by anonymisation and swap: decode, track, look ahead, render, encode.

Per decoded frame: turn it upright (display rotation), check for a scene cut (which resets the tracks),
detect faces (every ``detect_every``-th frame, and on every cut) and hand them to the shared tracking loop
(``tracking.loop.TrackingLoop``), whose look-ahead buffer of ``lookahead_frames`` frames lets a face be
hidden before the detector first finds it. The oldest frame leaves the buffer rendered (``render``), is
turned back to its stored orientation and encoded with its own time stamp; audio packets are copied as
they are read. At most ``lookahead_frames + 1`` frames are held, so memory does not grow with the video's
length.

The output is written to a hidden partial file beside the target and renamed onto the target only when
complete; on an error or a cancellation the partial file is removed, so no half-written video is ever
presented as done.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..core.errors import VideoCancelledError, VideoError
from ..engine.face import Face
from ..tracking.loop import TrackedFrame, TrackingLoop
from ..tracking.scenes import SceneCuts
from ..tracking.tracker import Tracker
from .decode import Reader
from .encode import Writer
from .options import VideoOptions

logger = logging.getLogger(__name__)

Progress = Callable[[int, "int | None"], None]
# render(upright rgb, faces) -> (upright rgb, {track_id: True when the face was still found after rendering})
Render = Callable[[np.ndarray, list[Face]], tuple[np.ndarray, dict[int, bool]]]


@dataclass
class _TrackStats:
    first: int
    last: int
    detected: int = 0
    masked: int = 0
    held: int = 0
    redetected: int = 0

    def to_dict(self, ident: int) -> dict:
        return {"track": ident, "first_frame": self.first, "last_frame": self.last, "frames_detected": self.detected,
                "frames_masked": self.masked, "frames_held": self.held, "frames_redetected": self.redetected}


def _turns(rotation: int) -> int:
    return (rotation // 90) % 4


def partial_path(target: Path) -> Path:
    return target.with_name(f".{target.stem}.partial{target.suffix}")


class _Pass:
    def __init__(self, options: VideoOptions, detect: Callable[[np.ndarray], list[Face]], render: Render):
        self.options, self.detect, self.render = options, detect, render
        self.tracking = TrackingLoop(Tracker(options.smoothing, options.keep_lost_frames, options.iou_match),
                                     options.lookahead_frames)
        self.cuts = SceneCuts(options.scene_cut)
        self.scenes = 1
        self.stats: dict[int, _TrackStats] = {}
        self.written = 0

    def add(self, index: int, image: np.ndarray, pts: int) -> None:
        """Track frame ``index`` (upright); ``pts`` is its time stamp."""
        if self.cuts.is_cut(image):
            self.tracking.start_scene(index)
            self.scenes += 1
        measure = (index - self.tracking.scene_start) % self.options.detect_every == 0
        self.tracking.add(index, self.detect(image) if measure else None, (image, pts))

    def ready(self, flush: bool = False):
        for frame in self.tracking.ready(flush):
            yield self._rendered(frame)

    def _rendered(self, frame: TrackedFrame) -> tuple[np.ndarray, int]:
        image, pts = frame.payload
        output, found_again = self.render(image, frame.faces)
        detected = frame.detected()
        for face in frame.faces:
            ident = face.extra["track_id"]
            stats = self.stats.setdefault(ident, _TrackStats(frame.index, frame.index))
            stats.first, stats.last = min(stats.first, frame.index), max(stats.last, frame.index)
            stats.masked += 1
            stats.detected += ident in detected
            stats.held += ident not in detected
        for ident, again in found_again.items():
            self.stats[ident].redetected += bool(again)
        self.written += 1
        return output, pts


def run(source: Path, target: Path, options: VideoOptions, detect: Callable[[np.ndarray], list[Face]],
        render: Render, progress: Progress | None = None, cancelled: Callable[[], bool] | None = None) -> dict:
    """Stream ``source`` into ``target``; the report (frames, tracks, seconds, fps, video and audio)."""
    source, target = Path(source), Path(target)
    partial = partial_path(target)
    started = time.monotonic()
    try:
        with Reader(source) as reader:
            info = reader.info
            work = _Pass(options, detect, render)
            with Writer(partial, reader.video, reader.audio, options) as writer:
                frames = reader.frames(on_audio=writer.mux_audio)
                first = next(frames, None)  # the first frame tells the rotation
                if first is None:
                    raise VideoError(f"{source.name} has no decodable frame (video codec {reader.codec})")
                turns = _turns(reader.rotation)
                writer.start(reader.rotation)
                index = 0
                for image, pts in _chain(first, frames):
                    if cancelled is not None and cancelled():
                        raise VideoCancelledError(f"cancelled after {work.written} of {info.frames or '?'} frames")
                    work.add(index, np.rot90(image, turns), pts)
                    index += 1
                    for output, output_pts in work.ready():
                        writer.write(np.rot90(output, -turns), output_pts)
                        if progress is not None:
                            progress(work.written, info.frames)
                for output, output_pts in work.ready(flush=True):
                    writer.write(np.rot90(output, -turns), output_pts)
                    if progress is not None:
                        progress(work.written, info.frames)
                writer.finish()
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    seconds = time.monotonic() - started
    report = {
        "frames": work.written,
        "seconds": round(seconds, 3),
        "fps": round(work.written / seconds, 2) if seconds > 0 else None,
        "scenes": work.scenes,
        "tracks": [stats.to_dict(ident) for ident, stats in sorted(work.stats.items())],
        "video": {**info.to_dict(), "rotation": reader.rotation},
        "audio": "copied" if info.has_audio else "none",
        "options": options.to_dict(),
    }
    logger.info("video: %d frames, %d tracks, %.1f fps", work.written, len(work.stats), report["fps"] or 0)
    return report


def _chain(first, rest):
    yield first
    yield from rest
