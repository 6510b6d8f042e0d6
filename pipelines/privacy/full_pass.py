"""The full privacy pass on one image: choose who is hidden, anonymize, optionally audit, optionally strengthen
until hidden."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from ..engine.detection.nms import iou
from ..engine.face import Face
from .masking import anonymize
from .options import PrivacyOptions
from .people import EVERYONE, People, split
from .self_audit import IOU_MATCH, AuditSettings, audit, face_from_box

logger = logging.getLogger(__name__)

STRENGTH_STEP = 0.25
MAX_ROUNDS = 12  # faces the audit adds could in principle keep coming: stop after this many rounds
_WIDER = {"face": "face_margin", "face_margin": "head"}


@dataclass
class Protected:
    image: np.ndarray  # uint8 [H,W,3]
    mask: np.ndarray  # float32 [H,W]
    report: dict  # JSON-able: options, per-face masks, audit and strengthening rounds


def stronger(plan: PrivacyOptions) -> PrivacyOptions | None:
    """The next step up for one face: more strength, then wider coverage, then (last resort) a solid fill
    of the whole head; None at the top."""
    if plan.strength < 1.0:
        return plan.with_strength(min(1.0, plan.strength + STRENGTH_STEP))
    if plan.coverage in _WIDER:
        return replace(plan, coverage=_WIDER[plan.coverage])
    if plan.mask_type != "solid":
        return replace(plan, mask_type="solid")
    return None


def _ignoring_kept(findings: dict, kept: list[Face]) -> dict:
    """The audit's findings less the detections over faces kept visible on purpose (they are not faces the
    first detection missed); ``all_hidden`` again from what is left."""
    if not kept or not findings["missed"]:
        return findings
    boxes = np.array([face.bbox for face in kept], np.float32)  # [K,4]
    missed = [miss for miss in findings["missed"]
              if iou(np.array(miss["bbox"], np.float32), boxes).max() < IOU_MATCH]
    hidden = not missed and not any(entry["detected"] or entry.get("recognisable") for entry in findings["faces"])
    return {**findings, "missed": missed, "other_detections": len(missed), "all_hidden": hidden,
            "kept_visible_detections": len(findings["missed"]) - len(missed)}


def protect(image: np.ndarray, faces: list[Face], options: PrivacyOptions, fits=None, run_audit: bool = False,
            auto_strengthen: bool = False, audit_settings: AuditSettings = AuditSettings(),
            people: People = EVERYONE, kept: list[Face] = ()) -> Protected:
    """Hide the faces that ``people`` says to hide (everyone by default); with ``auto_strengthen`` (implies
    the audit) faces the audit found that were not given (``missed``) are masked too, and every face still
    re-detected or still recognisable is masked harder (``stronger``: strength +0.25 up to 1, then face ->
    face_margin -> head coverage, then a solid fill) until none is found and none recognised. Faces kept
    visible (those ``people`` keeps, and ``kept``: faces the caller already chose to show) stay untouched
    throughout."""
    faces, fits = list(faces), None if fits is None else list(fits)
    choice = split(image, faces, people)
    kept = list(kept) + [faces[index] for index in choice.kept]
    if choice.kept:
        faces = [faces[index] for index in choice.hidden]
        fits = None if fits is None else [fits[index] if index < len(fits) else None for index in choice.hidden]
    plans = [options] * len(faces)
    result = anonymize(image, faces, options, fits, plans)
    report = {"options": options.to_dict(), "faces": result.faces, "audit": None, "rounds": [], "added_by_audit": 0}
    if people.mode != "everyone":
        report["people"] = choice.report
    if not (run_audit or auto_strengthen):
        return Protected(result.image, result.mask, report)
    findings = _ignoring_kept(audit(image, faces, result.image, audit_settings), kept)
    while auto_strengthen and not findings["all_hidden"]:
        report["rounds"].append({"strengths": [plan.strength for plan in plans],
                                 "coverages": [plan.coverage for plan in plans],
                                 "mask_types": [plan.mask_type for plan in plans],
                                 "still_detected": findings["still_detected"],
                                 "still_recognisable": findings["still_recognisable"],
                                 "missed": len(findings["missed"])})
        raised = [stronger(plan) if entry["detected"] or entry["recognisable"] else None
                  for plan, entry in zip(plans, findings["faces"])]
        added = [face_from_box(miss["bbox"], miss["score"], "+".join(miss["found_by"])) for miss in findings["missed"]]
        if (not any(raised) and not added) or len(report["rounds"]) > MAX_ROUNDS:
            logger.warning("%d face(s) still detected and %d recognisable at the strongest setting, %d found only "
                           "by the audit", findings["still_detected"], findings["still_recognisable"],
                           len(findings["missed"]))
            break
        plans = [new or plan for plan, new in zip(plans, raised)] + [options] * len(added)
        faces += added
        fits = None if fits is None else fits + [None] * len(added)
        report["added_by_audit"] += len(added)
        result = anonymize(image, faces, options, fits, plans)
        findings = _ignoring_kept(audit(image, faces, result.image, audit_settings), kept)
    report["faces"] = result.faces
    report["audit"] = findings
    return Protected(result.image, result.mask, report)
