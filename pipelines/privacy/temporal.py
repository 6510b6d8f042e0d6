"""Temporally stable faces for an image batch treated as video frames, tracked as the video pipeline tracks.

The batch runs through the shared ``tracking.loop.TrackingLoop``: faces are linked frame to frame by IoU
with a constant-velocity prediction, boxes, keypoints and landmarks are smoothed so masks do not jitter,
and a face the detector loses keeps its predicted (slightly growing) place for ``keep_frames`` frames.
With ``lookahead`` a face first found on frame k is also masked on up to ``lookahead`` frames before k,
extrapolated backwards from its track. ``cuts`` marks the frames that start a new scene: tracks end there,
and no face is extrapolated back across one.
"""

from __future__ import annotations

from ..core.errors import InvalidParameterError
from ..engine.face import Face
from ..tracking.loop import TrackingLoop
from ..tracking.tracker import Tracker


def stabilize(frames: list[list[Face]], smoothing: float = 0.5, keep_frames: int = 5,
              iou_match: float = 0.3, lookahead: int = 0, cuts: list[bool] | None = None) -> list[list[Face]]:
    """Faces per frame -> tracked faces per frame (smoothed, plus held ones); ``extra`` gets track_id and held."""
    if not 0.0 <= smoothing < 1.0:
        raise InvalidParameterError(f"smoothing must be from 0 (none) to below 1, got {smoothing}")
    if keep_frames < 0:
        raise InvalidParameterError(f"keep_frames must be 0 or more, got {keep_frames}")
    if lookahead < 0:
        raise InvalidParameterError(f"lookahead must be 0 or more, got {lookahead}")
    loop = TrackingLoop(Tracker(smoothing, keep_frames, iou_match), lookahead)
    stable: list[list[Face]] = []
    for index, detections in enumerate(frames):
        if cuts is not None and cuts[index]:
            loop.start_scene(index)
        loop.add(index, detections)
        stable.extend(frame.faces for frame in loop.ready())
    stable.extend(frame.faces for frame in loop.ready(flush=True))
    return stable
