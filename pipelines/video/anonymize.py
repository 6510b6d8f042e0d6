"""``anonymize_video``: every face of every frame hidden with the privacy masks, streamed.

Faces are found with the recall-first privacy detection the photos get (``PRIVACY_DETECTION``: deface's
threshold, full resolution plus overviews), on a schedule: every pass on every ``full_every``-th detected
frame, only the cheapest overview on the frames between. A face only the full passes find (a small face
in a crowd) is found on the next full frame; the tracker then holds it on the frames between, and the
look-ahead hides it on the frames before it was first found. Without ``VideoOptions.dense`` no MediaPipe
mesh is run: the mask is shaped from the five keypoints and the box with its margin. Each frame is
masked by ``privacy.protect`` (the same masks, strengths and self-audit as for photos); with the audit,
every frame is detected again after masking and each track counts the frames where it was found and the
frames where it was still recognisable, with its smallest identity distance (its most recognisable frame).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ..engine.face import Face
from ..engine.reference import acts_on
from ..privacy import PrivacyOptions, protect
from ..privacy.detection_settings import PRIVACY_DETECTION, PrivacyDetection
from ..privacy.people import EVERYONE, People
from . import stream
from .options import VideoOptions
from .people import TrackPeople


def detector(options: VideoOptions, dense: bool | None = None, analyse: bool = False) -> Callable:
    """detect(rgb) -> faces, with the detection settings (precision first: the swap's detector)."""
    from ..core.config import settings
    from ..engine.detection import detect_faces

    configured = settings().detection
    use_dense = options.dense if dense is None else dense

    def detect(image: np.ndarray) -> list[Face]:
        return detect_faces(image, threshold=configured.threshold, max_side=configured.max_input_side,
                            analyse=analyse, dense=use_dense)

    return detect


class PrivacyDetector:
    """detect(rgb) -> faces to hide: every pass of ``detection`` on the first call and every ``full_every``-th
    call after it, only the quick pass on the others. The same detection as photos (with ``detection.int8``,
    the int8 CenterFace proposes and the fp32 one confirms: ``detection/centerface_cascade.py``)."""

    def __init__(self, detection: PrivacyDetection, full_every: int, dense: bool):
        self.detection, self.full_every, self.dense = detection, full_every, dense
        self.calls = 0

    def __call__(self, image: np.ndarray) -> list[Face]:
        from ..privacy.finding import find_faces

        quick = self.calls % self.full_every != 0
        self.calls += 1
        return find_faces(image, self.detection, dense="mesh" if self.dense else False, quick=quick)


def anonymize_video(source: str | Path, target: str | Path, privacy_options: PrivacyOptions = PrivacyOptions(),
                    video_options: VideoOptions = VideoOptions(), progress: stream.Progress | None = None,
                    cancelled: Callable[[], bool] | None = None, run_audit: bool = False,
                    auto_strengthen: bool = False, detection: PrivacyDetection = PRIVACY_DETECTION,
                    people: People = EVERYONE) -> dict:
    """Write ``source`` with every face hidden to ``target`` (``people``: everyone, everyone except the
    reference people, only them; judged per track, ``people.py``); the report (see ``stream.run``) with the
    privacy options, per-track results and, with the audit, ``all_hidden``."""
    audit = run_audit or auto_strengthen
    tracks = None if people.mode == "everyone" else TrackPeople(people.reference)
    detect = PrivacyDetector(detection, video_options.full_every, video_options.dense)
    identities: dict[int, dict] = {}  # track id -> frames recognisable, smallest identity distance
    identity_model: dict = {}

    def render(image: np.ndarray, faces: list[Face]) -> tuple[np.ndarray, dict[int, bool]]:
        kept = []
        if tracks is not None:
            hidden = [acts_on(tracks.is_reference(image, face), people.mode) for face in faces]
            kept = [face for face, hide in zip(faces, hidden) if not hide]
            faces = [face for face, hide in zip(faces, hidden) if hide]
        result = protect(image, faces, privacy_options, run_audit=audit, auto_strengthen=auto_strengthen,
                         kept=kept)
        if not audit:
            return result.image, {}
        identity_model.update(result.report["audit"]["identity"])
        found: dict[int, bool] = {}
        for face, entry in zip(faces, result.report["audit"]["faces"]):
            ident = face.extra["track_id"]
            found[ident] = found.get(ident, False) or entry["detected"]
            track = identities.setdefault(ident, {"frames_recognisable": 0, "min_identity_distance": None})
            track["frames_recognisable"] += entry["recognisable"] is True
            distance, nearest = entry["identity_distance"], track["min_identity_distance"]
            if distance is not None and (nearest is None or distance < nearest):
                track["min_identity_distance"] = distance
        return result.image, found

    report = stream.run(Path(source), Path(target), video_options, detect, render, progress, cancelled)
    report["privacy"] = privacy_options.to_dict()
    report["detection"] = detect.detection.to_dict()
    report["audit"] = audit
    if tracks is not None:
        report["people"] = {"mode": people.mode, **tracks.report()}
    if audit:
        for track in report["tracks"]:
            track.update(identities.get(track["track"], {"frames_recognisable": 0, "min_identity_distance": None}))
        report["identity"] = identity_model
        report["frames_redetected"] = sum(track["frames_redetected"] for track in report["tracks"])
        report["frames_recognisable"] = sum(track["frames_recognisable"] for track in report["tracks"])
        report["all_hidden"] = report["frames_redetected"] == 0 and report["frames_recognisable"] == 0
    return report
