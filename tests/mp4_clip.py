"""Short MP4 clips for the video API and workflow tests: a real photo panned across the frame, with a tone."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

SAMPLE_RATE = 16000


def write_clip(path: Path, photo: np.ndarray, *, frames: int = 12, fps: int = 12, width: int = 320,
               height: int = 240, audio: bool = True) -> Path:
    """An H.264 MP4 of ``frames`` frames: a window sliding over ``photo`` (uint8 [H,W,3]); AAC 440 Hz tone."""
    scale = max(width * 1.25 / photo.shape[1], height / photo.shape[0])
    canvas = cv2.resize(photo, (round(photo.shape[1] * scale), round(photo.shape[0] * scale)),
                        interpolation=cv2.INTER_AREA)  # [H',W',3]
    slack = canvas.shape[1] - width
    with av.open(str(path), mode="w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = container.add_stream("aac", rate=SAMPLE_RATE) if audio else None
        for index in range(frames):
            left = round(slack * index / max(frames - 1, 1))
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(canvas[:height, left:left + width]),
                                               format="rgb24")
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if sound is not None:
            samples = round(SAMPLE_RATE * frames / fps)
            tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(samples) / SAMPLE_RATE)).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(tone[None, :], format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = SAMPLE_RATE, 0, Fraction(1, SAMPLE_RATE)
            container.mux(sound.encode(frame))
            container.mux(sound.encode(None))
    return path


def count_frames(path: Path) -> int:
    """Decoded video frames (not the container's claim)."""
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def audio_codec(path: Path) -> str | None:
    with av.open(str(path)) as container:
        return container.streams.audio[0].codec_context.name if container.streams.audio else None
