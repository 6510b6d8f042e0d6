"""Which face tracks of a video are the reference people (face by reference, streamed).

Frames come one at a time, so a track is judged as it goes: its face is embedded on its first
``JUDGED_SIGHTINGS`` frames, and the nearest of those distances to any reference person decides
whether the track is that person (within the model's same-person threshold). The bound keeps the cost
at a few embeddings per track, not one per frame; the nearest of several sightings is not fooled by one
blurred or turned frame.
"""

from __future__ import annotations

import math

import numpy as np

from ..engine import embedding
from ..engine import reference as references
from ..engine.face import Face
from ..engine.reference import Reference

JUDGED_SIGHTINGS = 5  # frames per track that are embedded (a cost bound, not a tuned value)


class TrackPeople:
    """``is_reference(image, face)``: is this tracked face one of the reference people, as judged so far?"""

    def __init__(self, reference: Reference):
        self.reference = reference
        self.nearest: dict[int, float] = {}  # track id -> nearest distance seen
        self.sightings: dict[int, int] = {}  # track id -> frames embedded

    def is_reference(self, image: np.ndarray, face: Face) -> bool:
        track = int(face.extra["track_id"])
        if self.sightings.get(track, 0) < JUDGED_SIGHTINGS:
            distance = float(references.distances(image, [face], self.reference)[0])
            self.nearest[track] = min(self.nearest.get(track, math.inf), distance)
            self.sightings[track] = self.sightings.get(track, 0) + 1
        return embedding.same_person(self.nearest[track], self.reference.space)

    def report(self) -> dict:
        """JSON-able: the reference, and per track its nearest distance and whether it is a reference person."""
        return {**self.reference.describe(), "tracks": [
            {"track": track, "distance": round(distance, 4),
             "reference_person": embedding.same_person(distance, self.reference.space)}
            for track, distance in sorted(self.nearest.items())]}
