"""The privacy self-audit: does a detector still find the faces we hid, does ArcFace still know them?

The masked image is run through the embedded detector again. Each original
face is matched to the re-detection with the highest IoU; IoU >= ``iou_match``
means it is still detected. When the ArcFace model is present, the original
face and the same place in the masked image (same five keypoints) are embedded
and their cosine similarity is reported: same-person pairs typically score
above 0.3, so a value near 0 means the identity is gone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import recognition
from ..detection import detect_faces
from ..face import Face

IOU_MATCH = 0.3


@dataclass(frozen=True)
class AuditSettings:
    threshold: float = 0.5  # detector confidence that counts as "detected"
    iou_match: float = IOU_MATCH
    max_side: int = 1280
    similarity: bool = True  # compute ArcFace similarity when the model is present


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one box (4,) with boxes [N,4] -> [N]."""
    if len(boxes) == 0:
        return np.zeros(0, np.float32)
    width = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    height = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    overlap = width * height
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return overlap / np.maximum(area + areas - overlap, 1e-9)


def audit(original: np.ndarray, faces: list[Face], masked: np.ndarray,
          settings: AuditSettings = AuditSettings()) -> dict:
    """JSON-able report: per original face, still detected or not (and ArcFace similarity when available)."""
    found = detect_faces(masked, backend="centerface", threshold=settings.threshold, max_side=settings.max_side,
                         analyse=False)
    found_boxes = np.array([face.bbox for face in found], np.float32).reshape(-1, 4)  # [M,4]
    identify = settings.similarity and recognition.is_available()
    matched: set[int] = set()
    entries = []
    for index, face in enumerate(faces):
        overlaps = iou(face.bbox, found_boxes)  # [M]
        best = int(np.argmax(overlaps)) if len(overlaps) else -1
        detected = best >= 0 and overlaps[best] >= settings.iou_match
        if detected:
            matched.add(best)
        entry = {
            "index": index,
            "bbox": [round(float(value), 1) for value in face.bbox],
            "detected": bool(detected),
            "iou": round(float(overlaps[best]), 3) if best >= 0 else 0.0,
            "score": round(found[best].score, 3) if detected else None,
            "similarity": None,
        }
        if identify:
            before = face.embedding if face.embedding is not None else recognition.embed(original, face)
            entry["similarity"] = round(recognition.similarity(before, recognition.embed(masked, face)), 4)
        entries.append(entry)
    still = sum(entry["detected"] for entry in entries)
    return {
        "detector": "centerface",
        "threshold": settings.threshold,
        "iou_match": settings.iou_match,
        "recognition": "arcface" if identify else "unavailable (buffalo_l not installed)",
        "faces": entries,
        "still_detected": still,
        "all_hidden": still == 0,
        "other_detections": len(found) - len(matched),
    }
