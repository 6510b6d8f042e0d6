"""The privacy pass over an image batch (FACES: one face list per image), optionally as video frames."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..core.errors import InvalidParameterError
from ..engine.face import Face
from ..tracking import settings as tracking
from ..tracking.scenes import SceneCuts
from .full_pass import protect
from .options import PrivacyOptions
from .people import EVERYONE, People
from .self_audit import AuditSettings
from .temporal import stabilize


def protect_batch(images: list[np.ndarray], faces: list[list[Face]], options: PrivacyOptions, fits=None,
                  run_audit: bool = False, auto_strengthen: bool = False, temporal: bool = False,
                  keep_frames: int = tracking.KEEP_LOST_FRAMES, smoothing: float = tracking.SMOOTHING,
                  lookahead: int = tracking.LOOKAHEAD_FRAMES, scene_cut: float = tracking.SCENE_CUT,
                  audit_settings: AuditSettings = AuditSettings(), people: People = EVERYONE,
                  on_image: Callable[[], None] | None = None) -> tuple[list[np.ndarray], list[np.ndarray], dict]:
    """``protect`` over an image batch (FACES: one face list per image). With ``temporal`` the batch is a
    video, tracked as the video pipeline tracks (``stabilize``): faces smoothed, lost faces held for
    ``keep_frames`` frames, new faces masked ``lookahead`` frames before they are first found, tracks reset
    where the histogram correlation of two frames drops below ``scene_cut`` (0 = never). ``people`` says
    who is hidden (everyone, everyone except the reference people, only them). ``on_image`` is called after
    each image (progress, cancellation)."""
    if len(faces) != len(images):
        raise InvalidParameterError(
            f"got {len(images)} images but face lists for {len(faces)}: detect faces on the same image batch"
        )
    fits = [None] * len(images) if fits is None else list(fits)
    if len(fits) != len(images):
        raise InvalidParameterError(f"got {len(images)} images but FLAME fits for {len(fits)}")
    if temporal:
        cuts = SceneCuts(scene_cut)
        faces = stabilize(faces, smoothing=smoothing, keep_frames=keep_frames, lookahead=lookahead,
                          cuts=[cuts.is_cut(image) for image in images])
        fits = [None if frame_fits is None else list(frame_fits) + [None] * (len(frame_faces) - len(frame_fits))
                for frame_fits, frame_faces in zip(fits, faces)]
    outputs, masks, reports = [], [], []
    for index, (image, image_faces, image_fits) in enumerate(zip(images, faces, fits)):
        result = protect(image, image_faces, options, image_fits, run_audit, auto_strengthen, audit_settings, people)
        outputs.append(result.image)
        masks.append(result.mask)
        reports.append({"image": index, **result.report})
        if on_image is not None:
            on_image()
    summary = {"images": reports, "temporal": temporal}
    if run_audit or auto_strengthen:
        summary["all_hidden"] = all(report["audit"]["all_hidden"] for report in reports)
    return outputs, masks, summary
