"""What the video commands share: the encoder and tracking options, a progress bar, output names."""

from __future__ import annotations

import sys
import time
from pathlib import Path


def add_video_arguments(parser) -> None:
    group = parser.add_argument_group("video (mp4, mov, mkv, webm, avi)")
    group.add_argument("--codec", default="libx264", help="video encoder (default libx264: H.264)")
    group.add_argument("--crf", type=int, default=20, help="quality: lower is better and bigger (default 20)")
    group.add_argument("--pixel-format", default="yuv420p", help="output pixel format (default yuv420p)")
    group.add_argument("--detect-every", type=int, default=1,
                       help="detect on every n-th frame and track in between (default 1: every frame)")
    group.add_argument("--lookahead", type=int, default=8,
                       help="frames masked before a face is first detected (default 8)")
    group.add_argument("--keep-lost", type=int, default=10,
                       help="frames a lost face stays masked at its predicted place (default 10)")


def video_options(args, dense: bool = False):
    from ..pipelines.video import VideoOptions

    return VideoOptions(codec=args.codec, crf=args.crf, pixel_format=args.pixel_format,
                        detect_every=args.detect_every, lookahead_frames=args.lookahead,
                        keep_lost_frames=args.keep_lost, dense=dense)


def is_video(path: Path) -> bool:
    from ..pipelines.video.options import VIDEO_SUFFIXES

    return path.suffix.lower() in VIDEO_SUFFIXES


def output_path(folder: Path, stem: str, source: Path, codec: str) -> Path:
    """``folder/stem.mp4`` (``.mkv`` when the codec or the source's audio does not fit MP4), numbered
    ``stem_2``... when that name or its partial file exists: an output is never overwritten."""
    from ..pipelines.video import probe
    from ..pipelines.video.encode import MP4_AUDIO
    from ..pipelines.video.stream import partial_path

    info = probe(source)
    mp4 = codec in ("libx264", "libx265") and (info.audio_codec is None or info.audio_codec in MP4_AUDIO)
    path, number = folder / f"{stem}{'.mp4' if mp4 else '.mkv'}", 1
    candidate = path
    while candidate.exists() or partial_path(candidate).exists():
        number += 1
        candidate = path.with_name(f"{path.stem}_{number}{path.suffix}")
    return candidate


class ProgressBar:
    """``bar(done, total)`` redraws one stderr line: frames, frames per second, time left."""

    def __init__(self, name: str, stream=None, every: float = 0.5):
        self.name, self.stream, self.every = name, stream or sys.stderr, every
        self.started = time.monotonic()
        self.drawn = 0.0

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self.drawn < self.every and done != total:
            return
        self.drawn = now
        fps = done / max(now - self.started, 1e-6)
        if total:
            left = max(total - done, 0) / fps if fps > 0 else 0
            text = f"{done}/{total} frames ({100 * min(done, total) // total}%)  {fps:.1f} fps  {_clock(left)} left"
        else:
            text = f"{done} frames  {fps:.1f} fps"
        self.stream.write(f"\r{self.name}: {text}   ")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}" if minutes >= 60 else f"{minutes}:{seconds:02d}"
