"""Errors of the video pipeline (PlayalterError: every entry point shows the message as is)."""

from ..errors import PlayalterError


class VideoError(PlayalterError):
    """The video cannot be read or written; the message names the file's problem (codec, damage)."""

    code = "invalid_video"


class VideoCancelledError(PlayalterError):
    """The caller cancelled; nothing was written at the target."""

    code = "cancelled"
