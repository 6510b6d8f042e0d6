"""Temporally stable faces for an image batch treated as video frames.

Faces are linked frame to frame by box IoU into tracks. A tracked face's box,
keypoints and landmarks are smoothed (exponential moving average), so masks do
not jitter; a face the detector loses keeps being masked at its last place for
``keep_frames`` frames, so a missed detection never shows a face for a frame.
Smoothing lags a moving face slightly; the mask margin and feather cover it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import InvalidParameterError
from ..face import Face
from .self_audit import iou


@dataclass
class _Track:
    ident: int
    face: Face
    missing: int = 0  # frames since the detector last saw it


def _blend(old: np.ndarray | None, new: np.ndarray | None, smoothing: float) -> np.ndarray | None:
    if old is None or new is None or old.shape != new.shape:
        return new
    return smoothing * old + (1.0 - smoothing) * new


def _smoothed(previous: Face, current: Face, smoothing: float) -> Face:
    return replace(
        current,
        bbox=_blend(previous.bbox, current.bbox, smoothing),
        kps=_blend(previous.kps, current.kps, smoothing),
        landmarks=_blend(previous.landmarks, current.landmarks, smoothing),
        extra=dict(current.extra),
    )


def stabilize(frames: list[list[Face]], smoothing: float = 0.5, keep_frames: int = 5,
              iou_match: float = 0.3) -> list[list[Face]]:
    """Faces per frame -> smoothed faces per frame, plus held faces; ``extra`` gets track_id and held."""
    if not 0.0 <= smoothing < 1.0:
        raise InvalidParameterError(f"smoothing must be from 0 (none) to below 1, got {smoothing}")
    if keep_frames < 0:
        raise InvalidParameterError(f"keep_frames must be 0 or more, got {keep_frames}")
    tracks: list[_Track] = []
    next_ident = 0
    stable: list[list[Face]] = []
    for detections in frames:
        boxes = np.array([track.face.bbox for track in tracks], np.float32).reshape(-1, 4)  # [T,4]
        pairs = sorted(((overlap, d, t) for d, face in enumerate(detections)
                        for t, overlap in enumerate(iou(face.bbox, boxes)) if overlap >= iou_match), reverse=True)
        track_of: dict[int, int] = {}
        for _, detection, track in pairs:
            if detection not in track_of and track not in track_of.values():
                track_of[detection] = track
        seen: set[int] = set()
        output: list[Face] = []
        for detection, face in enumerate(detections):
            if detection in track_of:
                track = tracks[track_of[detection]]
                track.face, track.missing = _smoothed(track.face, face, smoothing), 0
            else:
                track = _Track(next_ident, replace(face, extra=dict(face.extra)))
                next_ident += 1
                tracks.append(track)
            seen.add(track.ident)
            track.face.extra.update(track_id=track.ident, held=False)
            output.append(track.face)
        for track in tracks:
            if track.ident not in seen:
                track.missing += 1
        tracks = [track for track in tracks if track.missing <= keep_frames]
        for track in tracks:
            if track.missing:
                output.append(replace(track.face, extra={**track.face.extra, "held": True}))
        stable.append(output)
    return stable
