"""The full privacy pass on one image: anonymize, optionally audit, optionally strengthen until hidden."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from ..engine.face import Face
from .masking import anonymize
from .options import PrivacyOptions
from .self_audit import AuditSettings, audit, face_from_box

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


def protect(image: np.ndarray, faces: list[Face], options: PrivacyOptions, fits=None, run_audit: bool = False,
            auto_strengthen: bool = False, audit_settings: AuditSettings = AuditSettings()) -> Protected:
    """Hide the faces; with ``auto_strengthen`` (implies the audit) faces the audit found that were not
    given (``missed``) are masked too, and every face still re-detected or still recognisable is masked
    harder (``stronger``: strength +0.25 up to 1, then face -> face_margin -> head coverage, then a solid
    fill) until none is found and none recognised."""
    faces, fits = list(faces), None if fits is None else list(fits)
    plans = [options] * len(faces)
    result = anonymize(image, faces, options, fits, plans)
    report = {"options": options.to_dict(), "faces": result.faces, "audit": None, "rounds": [], "added_by_audit": 0}
    if not (run_audit or auto_strengthen):
        return Protected(result.image, result.mask, report)
    findings = audit(image, faces, result.image, audit_settings)
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
        findings = audit(image, faces, result.image, audit_settings)
    report["faces"] = result.faces
    report["audit"] = findings
    return Protected(result.image, result.mask, report)
