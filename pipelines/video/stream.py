"""The streaming pass shared by anonymisation and swap: decode, track, look ahead, render, encode.

Per decoded frame: turn it upright (display rotation), check for a scene cut (which resets the tracks),
detect faces (every ``detect_every``-th frame, and on every cut) and update the tracker. The frame then
waits in a look-ahead buffer of ``lookahead_frames`` frames: a track born on frame k adds its face,
extrapolated backwards, to the buffered frames before k (never across a scene cut), so a face is hidden
before the detector first finds it. The oldest frame leaves the buffer rendered (``render``), is turned
back to its stored orientation and encoded with its own time stamp; audio packets are copied as they are
read. At most ``lookahead_frames + 1`` frames are held, so memory does not grow with the video's length.

The output is written to a hidden partial file beside the target and renamed onto the target only when
complete; on an error or a cancellation the partial file is removed, so no half-written video is ever
presented as done.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..face import Face
from .decode import Reader
from .encode import Writer
from .errors import VideoCancelledError, VideoError
from .options import VideoOptions
from .scenes import SceneCuts
from .tracking import Tracker, extrapolate

logger = logging.getLogger(__name__)

Progress = Callable[[int, "int | None"], None]
# render(upright rgb, faces) -> (upright rgb, {track_id: True when the face was still found after rendering})
Render = Callable[[np.ndarray, list[Face]], tuple[np.ndarray, dict[int, bool]]]


@dataclass
class _Pending:
    index: int
    pts: int
    image: np.ndarray  # upright
    faces: list[Face]
    detected: set[int] = field(default_factory=set)  # track ids the detector found on this frame


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
        self.tracker = Tracker(options.smoothing, options.keep_lost_frames, options.iou_match)
        self.cuts = SceneCuts(options.scene_cut)
        self.pending: deque[_Pending] = deque()
        self.scene_start = 0
        self.scenes = 1
        self.stats: dict[int, _TrackStats] = {}
        self.written = 0

    def add(self, index: int, image: np.ndarray, pts: int) -> None:
        if self.cuts.is_cut(image):
            self.tracker.reset()
            self.scene_start, self.scenes = index, self.scenes + 1
        measure = index == self.scene_start or (index - self.scene_start) % self.options.detect_every == 0
        faces, born = self.tracker.update(self.detect(image) if measure else None)
        item = _Pending(index, pts, image, faces)
        if measure:
            item.detected = {face.extra["track_id"] for face in faces if not face.extra["held"]}
        for track in born:
            self.stats[track.ident] = _TrackStats(index, index)
            for earlier in self.pending:
                if earlier.index >= self.scene_start:
                    earlier.faces.append(extrapolate(track, index - earlier.index))
        self.pending.append(item)

    def ready(self, flush: bool = False):
        while self.pending and (flush or len(self.pending) > self.options.lookahead_frames):
            yield self._rendered(self.pending.popleft())

    def _rendered(self, item: _Pending) -> tuple[np.ndarray, int]:
        output, found_again = self.render(item.image, item.faces)
        for face in item.faces:
            stats = self.stats[face.extra["track_id"]]
            stats.first, stats.last = min(stats.first, item.index), max(stats.last, item.index)
            stats.masked += 1
            stats.detected += face.extra["track_id"] in item.detected
            stats.held += face.extra["track_id"] not in item.detected
        for ident, again in found_again.items():
            self.stats[ident].redetected += bool(again)
        self.written += 1
        return output, item.pts


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
