"""Temporally stable faces for an image batch treated as video frames, with the video tracker.

The batch goes through ``video.tracking.Tracker``, the same tracker the video pipeline streams with:
faces are linked frame to frame by IoU with a constant-velocity prediction, boxes, keypoints and landmarks
are smoothed so masks do not jitter, and a face the detector loses keeps its predicted (slightly growing)
place for ``keep_frames`` frames. With ``lookahead`` a face first found on frame k is also masked on up to
``lookahead`` frames before k, extrapolated backwards from its track. ``cuts`` marks the frames that start
a new scene: tracks end there, and no face is extrapolated back across one.
"""

from __future__ import annotations

from ..errors import InvalidParameterError
from ..face import Face
from ..video.tracking import Tracker, extrapolate


def stabilize(frames: list[list[Face]], smoothing: float = 0.5, keep_frames: int = 5,
              iou_match: float = 0.3, lookahead: int = 0, cuts: list[bool] | None = None) -> list[list[Face]]:
    """Faces per frame -> tracked faces per frame (smoothed, plus held ones); ``extra`` gets track_id and held."""
    if not 0.0 <= smoothing < 1.0:
        raise InvalidParameterError(f"smoothing must be from 0 (none) to below 1, got {smoothing}")
    if keep_frames < 0:
        raise InvalidParameterError(f"keep_frames must be 0 or more, got {keep_frames}")
    if lookahead < 0:
        raise InvalidParameterError(f"lookahead must be 0 or more, got {lookahead}")
    tracker = Tracker(smoothing, keep_frames, iou_match)
    stable: list[list[Face]] = []
    scene_start = 0
    for index, detections in enumerate(frames):
        if cuts is not None and cuts[index]:
            tracker.reset()
            scene_start = index
        faces, born = tracker.update(detections)
        for track in born:
            for back in range(1, min(lookahead, index - scene_start) + 1):
                stable[index - back].append(extrapolate(track, back))
        stable.append(faces)
    return stable
