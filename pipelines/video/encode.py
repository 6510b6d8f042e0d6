"""Writing a video with PyAV: frames encoded with their own time stamps, audio packets copied as they are.

The output keeps the input's video time base, so each frame's presentation time stamp (variable frame rate
included) is written unchanged, and the display rotation is written back as a display matrix. An odd
width or height gets one edge pixel repeated for chroma-subsampled pixel formats (yuv420p needs even sides). Audio is
remuxed (packets copied, never decoded), so its codec, samples and duration are those of the input.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..core.errors import VideoError
from .options import CRF_CODECS, VideoOptions

# Audio codecs the MP4/MOV muxer takes as they are; others need a Matroska (.mkv) output.
MP4_AUDIO = {"aac", "mp3", "opus", "flac", "alac", "ac3", "eac3"}
SUBSAMPLED = ("420", "422", "411", "410", "nv12", "nv21")  # pixel formats whose chroma needs even sides


def _encoder_options(options: VideoOptions) -> dict[str, str]:
    settings = {}
    if options.codec in CRF_CODECS:
        settings["crf"] = str(options.crf)
    if options.codec in ("libx264", "libx265"):
        settings["preset"] = options.preset
    if options.codec == "libvpx-vp9":
        settings["b"] = "0"  # constant quality
    return settings


class Writer:
    """Context manager for one output file: ``start(rotation)``, ``write(rgb, pts)``..., ``finish()``."""

    def __init__(self, path: Path, video_in, audio_in, options: VideoOptions):
        suffix = Path(path).suffix.lower()
        if audio_in is not None and suffix in (".mp4", ".mov") and audio_in.codec_context.name not in MP4_AUDIO:
            raise VideoError(f"the audio codec {audio_in.codec_context.name} cannot be copied into {suffix}: "
                             "write the output as .mkv")
        self.container = av.open(str(path), "w")
        try:
            self.video = self._add_video(video_in, options)
            self.audio = self.container.add_stream_from_template(audio_in) if audio_in is not None else None
        except (av.error.FFmpegError, ValueError) as error:
            self.container.close()
            raise VideoError(f"cannot write {options.codec} / {options.pixel_format} into {suffix}: {error}") from None
        self.time_base = video_in.time_base
        self.early_audio: list | None = []

    def _add_video(self, video_in, options: VideoOptions):
        rate = video_in.average_rate or video_in.guessed_rate or Fraction(25)
        stream = self.container.add_stream(options.codec, rate=rate, options=_encoder_options(options))
        self.pad = (0, 0)
        if any(mark in options.pixel_format for mark in SUBSAMPLED):  # chroma needs even sides: pad one pixel
            self.pad = (video_in.height % 2, video_in.width % 2)
        stream.width, stream.height = video_in.width + self.pad[1], video_in.height + self.pad[0]
        stream.pix_fmt = options.pixel_format
        stream.time_base = video_in.time_base
        stream.codec_context.time_base = video_in.time_base
        return stream

    def start(self, rotation: int) -> None:
        """Set the display rotation (counter-clockwise degrees) once the first frame told it, then mux the
        audio packets read before it (the file header is written with the first packet)."""
        if rotation:
            self.video.set_display_rotation(rotation)
        early, self.early_audio = self.early_audio, None
        for packet in early:
            self.mux_audio(packet)

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, *exc) -> None:
        self.container.close()

    def mux_audio(self, packet) -> None:
        if self.early_audio is not None:
            self.early_audio.append(packet)
            return
        packet.stream = self.audio
        self.container.mux(packet)

    def write(self, rgb: np.ndarray, pts: int) -> None:
        if any(self.pad):
            rgb = np.pad(rgb, ((0, self.pad[0]), (0, self.pad[1]), (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts, frame.time_base = pts, self.time_base
        try:
            self.container.mux(self.video.encode(frame))
        except av.error.FFmpegError as error:
            raise VideoError(f"encoding with {self.video.codec_context.name} failed: {error}") from None

    def finish(self) -> None:
        self.container.mux(self.video.encode(None))
