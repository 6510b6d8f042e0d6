"""What the video commands share: the encoder and tracking options, output names."""

from __future__ import annotations

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
    from ...pipelines.video import VideoOptions

    return VideoOptions(codec=args.codec, crf=args.crf, pixel_format=args.pixel_format,
                        detect_every=args.detect_every, lookahead_frames=args.lookahead,
                        keep_lost_frames=args.keep_lost, dense=dense)


def is_video(path: Path) -> bool:
    from ...pipelines.video.options import VIDEO_SUFFIXES

    return path.suffix.lower() in VIDEO_SUFFIXES


def output_path(folder: Path, stem: str, source: Path, codec: str) -> Path:
    """``folder/stem.mp4`` (``.mkv`` when the codec or the source's audio does not fit MP4), numbered
    ``stem_2``... when that name or its partial file exists: an output is never overwritten."""
    from ...pipelines.video import probe
    from ...pipelines.video.encode import MP4_AUDIO
    from ...pipelines.video.stream import partial_path

    info = probe(source)
    mp4 = codec in ("libx264", "libx265") and (info.audio_codec is None or info.audio_codec in MP4_AUDIO)
    path, number = folder / f"{stem}{'.mp4' if mp4 else '.mkv'}", 1
    candidate = path
    while candidate.exists() or partial_path(candidate).exists():
        number += 1
        candidate = path.with_name(f"{path.stem}_{number}{path.suffix}")
    return candidate
