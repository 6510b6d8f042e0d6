"""Reading a video with PyAV: ``probe`` describes it, ``Reader`` streams its frames and hands audio packets on.

Frames come out one at a time as uint8 RGB [H,W,3] as stored (before the display rotation) with their
presentation time stamp; nothing is buffered here beyond the decoder's own few frames. Every failure of
the container or the decoder becomes a ``VideoError`` that names the file's codec, never a path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import av
import numpy as np

from ..core.errors import VideoError
from .options import VideoInfo


def _open(path: Path):
    try:
        return av.open(str(path), "r", metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError):  # FFmpeg's own text stays out of the message
        raise VideoError(f"{Path(path).name} is not a readable video (a damaged file, or a container format "
                         "FFmpeg does not read)") from None


def _video_stream(container, name: str):
    if not container.streams.video:
        raise VideoError(f"{name} has no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return stream


def _codec_name(stream) -> str:
    try:
        return stream.codec_context.name
    except (av.error.FFmpegError, AttributeError):
        return "unknown"


def probe(path: str | Path) -> VideoInfo:
    """Describe a video (decodes its first frame, so an undecodable codec fails here, by name)."""
    path = Path(path)
    with Reader(path) as reader:
        first = next(reader.frames(), None)
        if first is None:
            raise VideoError(f"{path.name} has no decodable frame (video codec {reader.codec})")
        return reader.info


class Reader:
    """Context manager over one input file: ``frames()`` yields (rgb [H,W,3] uint8, pts) in decode order,
    calling ``on_audio(packet)`` for every packet of the first audio stream on the way."""

    def __init__(self, path: Path):
        self.name = Path(path).name
        self.container = _open(path)
        try:
            self.video = _video_stream(self.container, self.name)
            self.audio = self.container.streams.audio[0] if self.container.streams.audio else None
            self.codec = _codec_name(self.video)
        except BaseException:
            self.container.close()
            raise
        self.rotation = 0

    def __enter__(self) -> "Reader":
        return self

    def __exit__(self, *exc) -> None:
        self.container.close()

    @property
    def info(self) -> VideoInfo:
        stream = self.video
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        duration = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else (
            self.container.duration / av.time_base if self.container.duration else None)
        frames = stream.frames or (round(duration * fps) if duration and fps else None)
        return VideoInfo(width=stream.width, height=stream.height, fps=round(fps, 3), frames=frames,
                         duration=round(duration, 3) if duration else None, rotation=self.rotation,
                         has_audio=self.audio is not None, codec=self.codec,
                         audio_codec=_codec_name(self.audio) if self.audio is not None else None,
                         container=self.container.format.name)

    def frames(self, on_audio: Callable | None = None) -> Iterator[tuple[np.ndarray, int]]:
        streams = [self.video] + ([self.audio] if self.audio is not None and on_audio is not None else [])
        step = _frame_step(self.video)
        last_pts = None
        decoded = 0
        try:
            for packet in self.container.demux(*streams):
                if packet.stream.type == "audio":
                    if packet.dts is not None:
                        on_audio(packet)
                    continue
                for frame in packet.decode():
                    if decoded == 0:
                        self.rotation = int(round(frame.rotation or 0)) % 360
                    pts = frame.pts if frame.pts is not None else (0 if last_pts is None else last_pts + step)
                    if last_pts is not None and pts <= last_pts:
                        pts = last_pts + 1  # a damaged or duplicated time stamp: keep them increasing
                    last_pts = pts
                    decoded += 1
                    yield frame.to_ndarray(format="rgb24"), pts
        except av.error.FFmpegError:
            raise VideoError(f"{self.name} could not be decoded after {decoded} frame(s) "
                             f"(video codec {self.codec}: the stream is damaged)") from None
        if decoded == 0:
            raise VideoError(f"{self.name} has no decodable frame (video codec {self.codec})")


def _frame_step(stream) -> int:
    rate = stream.average_rate or stream.guessed_rate
    if not rate or not stream.time_base:
        return 1
    return max(1, round(1 / (float(rate) * float(stream.time_base))))
