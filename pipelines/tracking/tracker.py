"""Face tracks over frames: IoU association with a constant-velocity prediction, smoothing, held faces.

Each track keeps a smoothed face (box, keypoints, landmarks) and a box velocity in pixels per frame.
For a new frame every track is first moved by its velocity (the prediction); detections are matched to
predicted boxes greedily by IoU (highest first, at least ``iou_match``). A matched track's face becomes a
blend of prediction and detection (``smoothing`` is the prediction's weight: steady masks without the lag
of averaging with the previous place) and a share of the prediction's error is added to its velocity: an
alpha-beta filter per box coordinate, alpha = 1 - smoothing and beta = alpha^2 / (2 - alpha) (Benedict and
Bordner), so jitter barely moves the velocity and steady motion is followed without a lasting lag. An unmatched
track is *held*: its predicted face is still masked, growing by ``HELD_GROWTH`` per frame to cover the
uncertainty, for ``keep_frames`` frames; then it ends. ``update(None)`` (a frame the detector skipped)
advances every track by its prediction without counting it as lost.

``moved`` carries a face's keypoints and landmarks along with a new box (scale about the box, then shift),
so masks built from landmarks follow the prediction too. ``extrapolate`` steps a track's face back in time
(look-ahead masking of the frames before a face was first seen).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..engine.detection.nms import iou
from ..engine.face import Face
from .settings import IOU_MATCH, KEEP_LOST_FRAMES, SMOOTHING

MIN_SIZE_KEPT = 0.5
HELD_GROWTH = 0.05  # fraction of the box size added per frame a face is held or extrapolated


def _grown(box: np.ndarray, factor: float) -> np.ndarray:
    center = (box[:2] + box[2:]) / 2
    half = (box[2:] - box[:2]) / 2 * factor
    return np.concatenate([center - half, center + half]).astype(np.float32)


def _shifted(box: np.ndarray, change: np.ndarray) -> np.ndarray:
    """``box + change``, its size kept to at least ``MIN_SIZE_KEPT`` of the original (a box clipped at the
    frame's edge can shrink fast; a prediction must never turn it inside out)."""
    box = np.asarray(box, np.float32)
    new = box + change
    center = (new[:2] + new[2:]) / 2
    half = np.maximum((new[2:] - new[:2]) / 2, (box[2:] - box[:2]) / 2 * MIN_SIZE_KEPT)
    return np.concatenate([center - half, center + half]).astype(np.float32)


def moved(face: Face, box: np.ndarray, extra: dict | None = None) -> Face:
    """``face`` with its box replaced by ``box`` and its points carried along."""
    old = np.asarray(face.bbox, np.float32)
    box = np.asarray(box, np.float32)
    scale = (box[2:] - box[:2]) / np.maximum(old[2:] - old[:2], 1e-6)

    def carry(points):
        return None if points is None else ((np.asarray(points, np.float32) - old[:2]) * scale + box[:2])

    return replace(face, bbox=box, kps=carry(face.kps), landmarks=carry(face.landmarks),
                   extra=dict(face.extra if extra is None else extra))


def _blend(predicted: Face, detected: Face, weight: float) -> Face:
    def mix(old, new):
        if old is None or new is None or np.shape(old) != np.shape(new):
            return new
        return weight * np.asarray(old, np.float32) + (1.0 - weight) * np.asarray(new, np.float32)

    return replace(detected, bbox=mix(predicted.bbox, detected.bbox), kps=mix(predicted.kps, detected.kps),
                   landmarks=mix(predicted.landmarks, detected.landmarks), extra=dict(detected.extra))


@dataclass
class Track:
    ident: int
    face: Face
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))  # box change per frame
    missing: int = 0  # frames since the detector last saw it
    since_measured: int = 0  # frames since the last detection matched (missing or skipped)

    def predicted(self, frames: int = 1) -> Face:
        return moved(self.face, _shifted(self.face.bbox, self.velocity * frames))


def extrapolate(track: Track, frames_back: int) -> Face:
    """The track's face ``frames_back`` frames before its first detection, grown for the uncertainty."""
    box = _shifted(track.face.bbox, -track.velocity * frames_back)
    return moved(track.face, _grown(box, 1.0 + HELD_GROWTH * frames_back),
                 {**track.face.extra, "track_id": track.ident, "held": True})


class Tracker:
    def __init__(self, smoothing: float = SMOOTHING, keep_frames: int = KEEP_LOST_FRAMES,
                 iou_match: float = IOU_MATCH):
        self.smoothing, self.keep_frames, self.iou_match = smoothing, keep_frames, iou_match
        alpha = 1.0 - smoothing
        self.velocity_gain = alpha * alpha / (2.0 - alpha)  # Benedict-Bordner: beta for a given alpha
        self.tracks: list[Track] = []
        self.next_ident = 0

    def reset(self) -> None:
        """Forget every track (a scene cut); identities keep counting up."""
        self.tracks = []

    def _match(self, detections: list[Face], predictions: list[Face]) -> dict[int, int]:
        boxes = np.array([face.bbox for face in predictions], np.float32).reshape(-1, 4)  # [T,4]
        pairs = sorted(((overlap, d, t) for d, face in enumerate(detections)
                        for t, overlap in enumerate(iou(np.asarray(face.bbox, np.float32), boxes))
                        if overlap >= self.iou_match), reverse=True)
        track_of: dict[int, int] = {}
        for _, detection, track in pairs:
            if detection not in track_of and track not in track_of.values():
                track_of[detection] = track
        return track_of

    def update(self, detections: list[Face] | None) -> tuple[list[Face], list[Track]]:
        """Faces to mask on this frame (``extra``: track_id, held) and the tracks born on it."""
        predictions = [track.predicted() for track in self.tracks]
        if detections is None:
            for track, prediction in zip(self.tracks, predictions):
                track.face, track.since_measured = prediction, track.since_measured + 1
            return [self._output(track) for track in self.tracks], []
        track_of = self._match(detections, predictions)
        matched: set[int] = set()
        born: list[Track] = []
        for detection, face in enumerate(detections):
            if detection in track_of:
                index = track_of[detection]
                track = self.tracks[index]
                self._measure(track, predictions[index], face)
                matched.add(index)
            else:
                track = Track(self.next_ident, replace(face, extra=dict(face.extra)))
                self.next_ident += 1
                born.append(track)
        survivors = []
        for index, (track, prediction) in enumerate(zip(self.tracks, predictions)):
            if index not in matched:
                track.missing += 1
                track.since_measured += 1
                track.face = moved(prediction, _grown(np.asarray(prediction.bbox, np.float32), 1.0 + HELD_GROWTH))
                if track.missing > self.keep_frames:
                    continue
            survivors.append(track)
        self.tracks = survivors + born
        return [self._output(track) for track in self.tracks], born

    def _measure(self, track: Track, prediction: Face, detection: Face) -> None:
        weight = self.smoothing if track.missing == 0 else 0.0
        residual = np.asarray(detection.bbox, np.float32) - np.asarray(prediction.bbox, np.float32)
        track.velocity = track.velocity + self.velocity_gain * residual / (track.since_measured + 1)
        track.face, track.missing, track.since_measured = _blend(prediction, detection, weight), 0, 0

    def _output(self, track: Track) -> Face:
        return replace(track.face, extra={**track.face.extra, "track_id": track.ident, "held": track.missing > 0})
