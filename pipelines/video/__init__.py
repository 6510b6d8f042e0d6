"""Video: faces anonymised or swapped in video files, streamed frame by frame with the audio kept.

One module per job:
    options.py    VideoOptions (encoder, detection cadence, tracking) and VideoInfo
    decode.py     probe() and Reader: PyAV decoding, audio packets handed on
    encode.py     Writer: encoding with the input's time stamps and rotation, audio remuxed
    stream.py     the streaming pass: tracking loop, render, encode, partial file renamed when done
    anonymize.py  anonymize_video()
    swap.py       swap_video()

Typical use::

    from playalter.pipelines import video
    from playalter.pipelines.privacy import PrivacyOptions

    report = video.anonymize_video("clip.mp4", "out.mp4", PrivacyOptions("pixelate"), video.VideoOptions(),
                                   progress=lambda done, total: ..., cancelled=lambda: False)

Faces are tracked by ``pipelines.tracking``, shared with the privacy image batch. The errors
(``VideoError``: invalid_video, ``VideoCancelledError``: cancelled) live in ``pipelines.errors``.
Names are imported on first use, so the options can be read without loading PyAV.
"""

from __future__ import annotations

import importlib

from ..core.errors import VideoCancelledError, VideoError

_EXPORTS = {
    "VideoOptions": "options", "VideoInfo": "options", "VIDEO_SUFFIXES": "options",
    "probe": "decode",
    "anonymize_video": "anonymize",
    "swap_video": "swap",
}

__all__ = sorted([*_EXPORTS, "VideoCancelledError", "VideoError"])


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
