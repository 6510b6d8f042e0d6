"""Short test videos made from real photos with PyAV, with a synthetic audio track (the independent
face detector that checks the results is ``mtcnn_judge``)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

SIZE = (320, 240)  # width, height
SAMPLE_RATE = 16000


def window(photo: np.ndarray, center: tuple[float, float], zoom: float, size=SIZE) -> np.ndarray:
    """A crop of ``photo`` around ``center`` (x, y, 0..1 of the photo) showing 1/zoom of its width, resized
    to ``size``; parts outside the photo are grey."""
    height, width = photo.shape[:2]
    crop_w = width / zoom
    crop_h = crop_w * size[1] / size[0]
    x0, y0 = center[0] * width - crop_w / 2, center[1] * height - crop_h / 2
    scale = size[0] / crop_w
    matrix = np.float32([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]])
    return cv2.warpAffine(photo, matrix, size, flags=cv2.INTER_AREA, borderValue=(128, 128, 128))


def story_frames(group: np.ndarray, portrait: np.ndarray, count: int = 75) -> list[np.ndarray]:
    """Frames: a pan and zoom over the group photo (faces enter and leave at the edges; one face covered
    for three frames), then a cut to the portrait, whose face slides in from the right edge."""
    cut = count * 8 // 15
    frames = []
    for index in range(cut):
        t = index / max(cut - 1, 1)
        frame = window(group, (0.3 + 0.4 * t, 0.45), 1.3 + 0.6 * t)
        if 15 <= index < 18:
            frame[60:160, 120:200] = 90  # a brief occlusion
        frames.append(frame)
    for index in range(count - cut):
        t = index / max(count - cut - 1, 1)
        frames.append(window(portrait, (0.1 + 0.35 * t, 0.3), 1.6))
    return frames


def write_clip(path: Path, frames: list[np.ndarray], pts: list[int] | None = None, time_base=Fraction(1, 25),
               rotation: int = 0, audio_seconds: float | None = None, codec: str = "libx264",
               pixel_format: str = "yuv420p") -> Path:
    """Encode ``frames`` (RGB, displayed orientation; stored turned back by ``rotation``) at ``pts``
    (default 0, 1, 2... in ``time_base``) with a 440 Hz AAC tone of ``audio_seconds``."""
    pts = list(range(len(frames))) if pts is None else pts
    turns = (rotation // 90) % 4
    with av.open(str(path), "w") as container:
        stored = np.rot90(frames[0], -turns)
        video = container.add_stream(codec, rate=round(1 / time_base) if time_base.numerator == 1 else 25)
        video.width, video.height, video.pix_fmt = stored.shape[1], stored.shape[0], pixel_format
        video.time_base = time_base
        video.codec_context.time_base = time_base
        if rotation:
            video.set_display_rotation(rotation)
        audio = container.add_stream("aac", rate=SAMPLE_RATE, layout="mono") if audio_seconds else None
        for frame_pts, image in zip(pts, frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(np.rot90(image, -turns)), format="rgb24")
            frame.pts, frame.time_base = frame_pts, time_base
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if audio is not None:
            total = int(audio_seconds * SAMPLE_RATE)
            for start in range(0, total, 1024):
                samples = np.arange(start, min(start + 1024, total))
                tone = (0.3 * np.sin(2 * np.pi * 440 * samples / SAMPLE_RATE)).astype(np.float32)[None]
                chunk = av.AudioFrame.from_ndarray(tone, format="flt", layout="mono")
                chunk.sample_rate, chunk.pts = SAMPLE_RATE, start
                container.mux(audio.encode(chunk))
            container.mux(audio.encode(None))
    return path


def read_frames(path: Path) -> tuple[list[np.ndarray], list[float], int]:
    """Displayed frames (rotation applied), their times in seconds, and the rotation."""
    frames, times, rotation = [], [], 0
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            rotation = int(round(frame.rotation or 0)) % 360
            frames.append(np.rot90(frame.to_ndarray(format="rgb24"), rotation // 90))
            times.append(float(frame.pts * frame.time_base))
    return frames, times, rotation


def audio_packets(path: Path) -> tuple[str, list[bytes], float]:
    """(codec, packet payloads, decoded seconds) of the first audio stream."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        payloads = [bytes(packet) for packet in container.demux(stream) if packet.size]
        codec = stream.codec_context.name
    with av.open(str(path)) as container:
        samples = sum(frame.samples for frame in container.decode(audio=0))
    return codec, payloads, samples / SAMPLE_RATE
