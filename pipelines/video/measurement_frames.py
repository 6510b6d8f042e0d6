"""Frames of one person's video for measurement fusion (``engine.measurement_fusion``).

Frames are sampled evenly over the whole video (consecutive frames repeat one pose and one expression, so
spreading them out gives the fusion different views), and each keeps its largest face when the face has
dense landmarks; frames without one are skipped. Frames are turned upright by the video's display
rotation, as a player shows them (a phone video is often stored sideways), so the faces, and the sheet
drawn on the reference frame, are upright.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ..core.errors import VideoCancelledError
from ..engine.detection import detect_faces
from ..engine.measurement_fusion import MAX_FRAMES, Frame
from .decode import Reader, probe

DEFAULT_FRAMES = 16


def measurement_frames(path: str | Path, count: int = DEFAULT_FRAMES,
                       progress: Callable[[int, int], None] | None = None,
                       cancelled: Callable[[], bool] | None = None) -> tuple[list[Frame], int]:
    """(the sampled frames whose largest face has dense landmarks, named "frame N" by their 0-based
    number in the video; how many frames were sampled). ``count``: 1..MAX_FRAMES frames to sample;
    ``progress(sampled, count)`` after each sampled frame; ``cancelled()`` true stops with
    VideoCancelledError."""
    count = max(1, min(int(count), MAX_FRAMES))
    total = probe(path).frames or count  # unknown length: the first ``count`` frames
    step = max(1, total // count)
    frames, sampled = [], 0
    with Reader(Path(path)) as reader:
        for number, (image, _) in enumerate(reader.frames()):
            if cancelled is not None and cancelled():
                raise VideoCancelledError(f"cancelled after {sampled} of {count} sampled frames")
            if number % step:
                continue
            sampled += 1
            image = np.ascontiguousarray(np.rot90(image, reader.rotation // 90))  # [H,W,3] as displayed
            faces = detect_faces(image, dense=True)
            if faces and faces[0].mesh is not None:
                frames.append(Frame(image, faces[0], f"frame {number}"))
            if progress is not None:
                progress(sampled, count)
            if sampled == count:
                break
    return frames, sampled
