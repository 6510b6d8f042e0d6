"""The tracking loop over a sequence of frames: scene resets, tracker updates, look-ahead back-filling.

Frames are added in order with their detections (None on a frame the detector skipped) and update the
``Tracker``; ``start_scene`` before a frame that starts a new scene ends every track. Each frame then waits
in a look-ahead buffer of ``lookahead`` frames: a track born on frame k adds its face, extrapolated
backwards, to the buffered frames before k (never across a scene cut), so a face is hidden before the
detector first finds it. ``ready`` hands the frames on in order once they leave the buffer, so at most
``lookahead + 1`` frames are held however long the sequence is. The video stream and the privacy image
batch both run this loop, so a video and a batch of its frames get the same faces.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Iterator

from ..engine.face import Face
from .tracker import Tracker, extrapolate


@dataclass
class TrackedFrame:
    index: int
    faces: list[Face]  # extra: track_id, held (True for predicted and extrapolated faces)
    measured: bool  # the detector ran on this frame
    payload: Any = None  # what the caller carries along with the frame (image, time stamp)

    def detected(self) -> set[int]:
        """The track ids the detector found on this frame."""
        if not self.measured:
            return set()
        return {face.extra["track_id"] for face in self.faces if not face.extra["held"]}


class TrackingLoop:
    def __init__(self, tracker: Tracker, lookahead: int):
        self.tracker, self.lookahead = tracker, lookahead
        self.pending: deque[TrackedFrame] = deque()
        self.scene_start = 0

    def start_scene(self, index: int) -> None:
        """Frame ``index`` starts a new scene: every track ends, no face is extrapolated back across it."""
        self.tracker.reset()
        self.scene_start = index

    def add(self, index: int, detections: list[Face] | None, payload: Any = None) -> None:
        """Track frame ``index``; its faces and those of the buffered frames before it are updated."""
        faces, born = self.tracker.update(detections)
        for track in born:
            for earlier in self.pending:
                if earlier.index >= self.scene_start:
                    earlier.faces.append(extrapolate(track, index - earlier.index))
        self.pending.append(TrackedFrame(index, faces, detections is not None, payload))

    def ready(self, flush: bool = False) -> Iterator[TrackedFrame]:
        """The frames that have left the look-ahead buffer, oldest first (all of them with ``flush``)."""
        while self.pending and (flush or len(self.pending) > self.lookahead):
            yield self.pending.popleft()
