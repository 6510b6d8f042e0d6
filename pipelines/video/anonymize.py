"""``anonymize_video``: every face of every frame hidden with the privacy masks, streamed.

Detection uses the configured backend with the privacy defaults (detection threshold and input side from
the settings unless the video options give them), without the ArcFace analysis and, unless
``VideoOptions.dense``, without MediaPipe's dense mesh: the privacy mask is then shaped from the five
keypoints and the box with its margin, which covers the face at a fraction of the cost per frame. Each
frame is masked by ``privacy.protect`` (the same masks, strengths and self-audit as for photos); with the
audit, every frame is detected again after masking and each track counts the frames where it was found.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ..face import Face
from ..privacy import AuditSettings, PrivacyOptions, protect
from . import stream
from .options import VideoOptions


def detection_settings(options: VideoOptions) -> tuple[float, int]:
    """(threshold, max_side): the detection settings, overridden by the video options."""
    from ..config import settings

    configured = settings().detection
    threshold = options.threshold if options.threshold is not None else configured.threshold
    max_side = options.max_side if options.max_side is not None else configured.max_input_side
    return threshold, max_side


def detector(options: VideoOptions, dense: bool | None = None, analyse: bool = False) -> Callable:
    """detect(rgb) -> faces, with ``detection_settings``."""
    from ..detection import detect_faces

    threshold, max_side = detection_settings(options)
    use_dense = options.dense if dense is None else dense

    def detect(image: np.ndarray) -> list[Face]:
        return detect_faces(image, threshold=threshold, max_side=max_side, analyse=analyse, dense=use_dense)

    return detect


def anonymize_video(source: str | Path, target: str | Path, privacy_options: PrivacyOptions = PrivacyOptions(),
                    video_options: VideoOptions = VideoOptions(), progress: stream.Progress | None = None,
                    cancelled: Callable[[], bool] | None = None, run_audit: bool = False,
                    auto_strengthen: bool = False) -> dict:
    """Write ``source`` with every face hidden to ``target``; the report (see ``stream.run``) with the
    privacy options, per-track results and, with the audit, ``all_hidden``."""
    audit = run_audit or auto_strengthen
    detect = detector(video_options)
    threshold, max_side = detection_settings(video_options)
    audit_settings = AuditSettings(threshold=threshold, max_side=max_side, similarity=False)

    def render(image: np.ndarray, faces: list[Face]) -> tuple[np.ndarray, dict[int, bool]]:
        result = protect(image, faces, privacy_options, run_audit=audit, auto_strengthen=auto_strengthen,
                         audit_settings=audit_settings)
        if not audit:
            return result.image, {}
        found: dict[int, bool] = {}
        for face, entry in zip(faces, result.report["audit"]["faces"]):
            ident = face.extra["track_id"]
            found[ident] = found.get(ident, False) or entry["detected"]
        return result.image, found

    report = stream.run(Path(source), Path(target), video_options, detect, render, progress, cancelled)
    report["privacy"] = privacy_options.to_dict()
    report["audit"] = audit
    if audit:
        report["frames_redetected"] = sum(track["frames_redetected"] for track in report["tracks"])
        report["all_hidden"] = report["frames_redetected"] == 0
    return report
