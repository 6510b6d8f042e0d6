"""The privacy self-audit: do two detectors of different families still find a face, does ArcFace still know it?

The masked image is run through the embedded CenterFace again and through BlazeFace (MediaPipe's
short-range detector, another family, fetched like the face-mesh model; skipped with a note when it
cannot be had). Each original face is matched to the re-detection with the highest IoU, per detector;
IoU >= ``iou_match`` means it is still detected, and ``detected_by`` names who found it. Detections
that match no original face are faces the first detection *missed*: they are listed under ``missed``
with the detector(s) that found them, and ``auto_strengthen`` masks them too. When the ArcFace model
is present, each original face and the same place in the masked image are embedded and their cosine
similarity is reported: same-person pairs typically score above 0.3, so near 0 means the identity is gone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..core.errors import ModelMissingError
from ..engine import recognition
from ..engine.detection import blazeface, detect_faces
from ..engine.detection.nms import iou, nms
from ..engine.face import Face

IOU_MATCH = 0.3
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuditSettings:
    threshold: float = 0.5  # CenterFace confidence that counts as "detected"
    iou_match: float = IOU_MATCH
    max_side: int = 1280
    similarity: bool = True  # compute ArcFace similarity when the model is present
    second_detector: bool = True  # also re-detect with BlazeFace
    second_threshold: float = 0.75  # BlazeFace confidence that counts as "detected"


def _redetect(masked: np.ndarray, settings: AuditSettings) -> tuple[dict[str, np.ndarray], str | None]:
    """Boxes [M,5] per detector name on the masked image, and why the second detector did not run (or None)."""
    found = detect_faces(masked, backend="centerface", threshold=settings.threshold, max_side=settings.max_side,
                         analyse=False, dense=False)
    boxes = {"centerface": np.array([[*face.bbox, face.score] for face in found], np.float32).reshape(-1, 5)}
    if not settings.second_detector:
        return boxes, "not asked for"
    try:
        boxes[blazeface.NAME] = blazeface.detect_boxes(masked, settings.second_threshold)
    except ModelMissingError as error:
        logger.warning("the privacy audit runs without its second detector: %s", error)
        return boxes, "model unavailable (playalter models fetch face_detection)"
    return boxes, None


def _missed(found: dict[str, np.ndarray], matched: dict[str, set[int]]) -> list[dict]:
    """Detections matching no original face, merged across detectors, each with who found it."""
    rows, names = [], []
    for name, boxes in found.items():
        for index, box in enumerate(boxes):
            if index not in matched[name]:
                rows.append(box)
                names.append(name)
    if not rows:
        return []
    boxes = np.array(rows, np.float32)
    missed = []
    for keep in nms(boxes, IOU_MATCH):
        overlapping = np.nonzero(iou(boxes[keep], boxes[:, :4]) >= IOU_MATCH)[0]
        missed.append({"bbox": [round(float(value), 1) for value in boxes[keep, :4]],
                       "score": round(float(boxes[keep, 4]), 3),
                       "found_by": sorted({names[other] for other in overlapping})})
    return missed


def audit(original: np.ndarray, faces: list[Face], masked: np.ndarray,
          settings: AuditSettings = AuditSettings()) -> dict:
    """JSON-able report: per original face, which detectors still find it (and ArcFace similarity when
    available); faces found on the output that match no original face (``missed``)."""
    found, second_note = _redetect(masked, settings)
    identify = settings.similarity and recognition.is_available()
    matched: dict[str, set[int]] = {name: set() for name in found}
    entries = []
    for index, face in enumerate(faces):
        detected_by, best_iou, best_score = [], 0.0, None
        for name, boxes in found.items():
            overlaps = iou(face.bbox, boxes[:, :4])  # [M]
            if not len(overlaps):
                continue
            best = int(np.argmax(overlaps))
            best_iou = max(best_iou, float(overlaps[best]))
            if overlaps[best] >= settings.iou_match:
                matched[name].add(best)
                detected_by.append(name)
                best_score = max(best_score or 0.0, float(boxes[best, 4]))
        entry = {
            "index": index,
            "bbox": [round(float(value), 1) for value in face.bbox],
            "detected": bool(detected_by),
            "detected_by": detected_by,
            "iou": round(best_iou, 3),
            "score": round(best_score, 3) if best_score is not None else None,
            "similarity": None,
        }
        if identify:
            before = face.embedding if face.embedding is not None else recognition.embed(original, face)
            entry["similarity"] = round(recognition.similarity(before, recognition.embed(masked, face)), 4)
        entries.append(entry)
    still = sum(entry["detected"] for entry in entries)
    missed = _missed(found, matched)
    return {
        "detector": "centerface",
        "detectors": sorted(found),
        "second_detector": blazeface.NAME if second_note is None else f"{blazeface.NAME}: {second_note}",
        "threshold": settings.threshold,
        "second_threshold": settings.second_threshold,
        "iou_match": settings.iou_match,
        "recognition": "arcface" if identify else "unavailable (buffalo_l not installed)",
        "faces": entries,
        "still_detected": still,
        "missed": missed,
        "all_hidden": still == 0 and not missed,
        "other_detections": len(missed),
    }


def face_from_box(bbox: list[float], score: float, detector: str) -> Face:
    """A face for a bare box (keypoints placed where an upright face has them), to be masked."""
    x1, y1, x2, y2 = bbox
    width, height = x2 - x1, y2 - y1
    layout = np.array([[0.32, 0.4], [0.68, 0.4], [0.5, 0.58], [0.36, 0.76], [0.64, 0.76]], np.float32)
    kps = layout * np.array([width, height], np.float32) + np.array([x1, y1], np.float32)
    return Face(bbox=np.array(bbox, np.float32), score=score, kps=kps, detector=detector)
