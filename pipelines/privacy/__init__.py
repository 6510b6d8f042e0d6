"""Adaptive privacy masks, strength levels and the privacy self-audit.

One module per job:
    strength.py   strength 0..1 -> size-relative effect parameters (the documented table)
    geometry.py   per-face mask shapes (landmarks, FLAME mesh, keypoints + box), feathering, union
    effects.py    blur / pixelate / noise / solid, and the exact uint8 composite
    synthetic.py  synthetic face: a far-away identity rendered by InSwapper
    options.py    PrivacyOptions, the validated options record
    anonymize.py  hide the faces of one image
    audit.py      re-detect (and re-identify) on the output
    protect.py    anonymize + audit + auto-strengthen
    levels.py     N privacy levels in one call
    temporal.py   stable masks over an image batch treated as video frames

Typical use::

    from playalter.pipelines.detection import detect_faces
    from playalter.pipelines import privacy

    faces = detect_faces(image)
    result = privacy.protect(image, faces, privacy.PrivacyOptions("pixelate", strength=1.0), run_audit=True)
    result.image, result.mask, result.report
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidParameterError
from ..face import Face
from .anonymize import Anonymized, anonymize
from .audit import AuditSettings, audit
from .geometry import COVERAGES, Shape
from .levels import create_levels, level_strengths
from .options import PrivacyOptions, parse_color
from .protect import Protected, protect
from .strength import MASK_TYPES, STRENGTH_TABLE, parameters
from .temporal import stabilize

__all__ = [
    "Anonymized", "AuditSettings", "COVERAGES", "MASK_TYPES", "PrivacyOptions", "Protected", "STRENGTH_TABLE",
    "Shape", "anonymize", "audit", "create_levels", "level_strengths", "parameters", "parse_color", "protect",
    "protect_batch", "stabilize",
]


def protect_batch(images: list[np.ndarray], faces: list[list[Face]], options: PrivacyOptions, fits=None,
                  run_audit: bool = False, auto_strengthen: bool = False, temporal: bool = False,
                  keep_frames: int = 5, smoothing: float = 0.5,
                  audit_settings: AuditSettings = AuditSettings()) -> tuple[list[np.ndarray], list[np.ndarray], dict]:
    """``protect`` over an image batch (FACES: one face list per image). With ``temporal`` the batch is a
    video: faces are smoothed and lost faces held for ``keep_frames`` frames (``stabilize``)."""
    if len(faces) != len(images):
        raise InvalidParameterError(
            f"got {len(images)} images but face lists for {len(faces)}: detect faces on the same image batch"
        )
    fits = [None] * len(images) if fits is None else list(fits)
    if len(fits) != len(images):
        raise InvalidParameterError(f"got {len(images)} images but FLAME fits for {len(fits)}")
    if temporal:
        faces = stabilize(faces, smoothing=smoothing, keep_frames=keep_frames)
        fits = [None if frame_fits is None else list(frame_fits) + [None] * (len(frame_faces) - len(frame_fits))
                for frame_fits, frame_faces in zip(fits, faces)]
    outputs, masks, reports = [], [], []
    for index, (image, image_faces, image_fits) in enumerate(zip(images, faces, fits)):
        result = protect(image, image_faces, options, image_fits, run_audit, auto_strengthen, audit_settings)
        outputs.append(result.image)
        masks.append(result.mask)
        reports.append({"image": index, **result.report})
    summary = {"images": reports, "temporal": temporal}
    if run_audit or auto_strengthen:
        summary["all_hidden"] = all(report["audit"]["all_hidden"] for report in reports)
    return outputs, masks, summary
