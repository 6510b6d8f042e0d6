"""The privacy self-audit: do two detectors of different families still find a face, is it still recognisable?

The masked image is run through the embedded CenterFace again and through BlazeFace (MediaPipe's
short-range detector, another family, fetched like the face-mesh model; skipped with a note when it
cannot be had). Each original face is matched to the re-detection with the highest IoU, per detector;
IoU >= ``iou_match`` means it is still detected, and ``detected_by`` names who found it. Detections
that match no original face are faces the first detection *missed*: they are listed under ``missed``
with the detector(s) that found them, and ``auto_strengthen`` masks them too.

Recognisable? Each original face and the same box in the masked image are embedded by the identity model
(``engine/embedding.py``: ArcFace when buffalo_l is installed, else dlib's descriptor) and their distance is
judged against the model's same-person distance (for dlib 0.6, which the tuning set's rule gives too:
docs/privacy.md, "Recognisable?"). A face is ``recognisable`` when the output is nearer to it than that,
unless the same photo with the whole head filled is that near too: then the model cannot judge the face
(a profile its alignment cannot find, a sliver of a face at the frame's edge: what it sees is the
surroundings), and ``recognisable`` is None. ``identity_rank`` is 1 + the number of gallery faces nearer to
the output than the input face is (rank 1: someone holding the gallery would pick the right person). The
gallery is the photo's other faces and the embeddings the caller gives (``AuditSettings.gallery``). Without
an identity model the report says why (``identity.unavailable``) and judges detection alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..core.errors import DependencyMissingError, ModelCorruptError, ModelDownloadError, ModelMissingError
from ..engine import embedding
from ..engine.detection import blazeface, detect_faces
from ..engine.detection.nms import iou, nms
from ..engine.face import Face
from .masking import anonymize
from .options import PrivacyOptions

IOU_MATCH = 0.3
ERASED = PrivacyOptions("solid", strength=1.0, coverage="head")  # the reference of a face that is gone
_NOT_JUDGED = {"identity_distance": None, "recognisable": None, "identity_rank": None}
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuditSettings:
    threshold: float = 0.5  # CenterFace confidence that counts as "detected"
    iou_match: float = IOU_MATCH
    max_side: int = 1280
    identity: bool = True  # ask whether hidden faces are still recognisable, when an identity model is there
    identity_model: str = "auto"  # embedding.resolve_space's preference: "auto", "arcface" or "dlib"
    gallery: tuple = ()  # further faces to rank the true identity among: embeddings (D,) of the model's space
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


def identity_space(settings: AuditSettings) -> tuple[embedding.EmbeddingSpace | None, str | None]:
    """The identity model the audit embeds with, or None and why none can be had."""
    if not settings.identity:
        return None, "not asked for"
    try:
        return embedding.resolve_space(settings.identity_model), None
    except (DependencyMissingError, ModelMissingError, ModelCorruptError, ModelDownloadError) as error:
        logger.warning("the privacy audit cannot tell whether hidden faces are recognisable: %s", error)
        return None, str(error)


def _erased_distance(original: np.ndarray, face: Face, before: np.ndarray, space: embedding.EmbeddingSpace) -> float:
    """Distance from the face's input embedding to its embedding once the whole head is filled (solid, head
    coverage, strength 1): what the model still sees of the photo around a face that is gone."""
    erased = anonymize(original, [face], ERASED).image  # uint8 [H,W,3]
    return embedding.distance(before, embedding.embed(erased, face, space), space)


def reidentify(original: np.ndarray, faces: list[Face], masked: np.ndarray, space: embedding.EmbeddingSpace,
               gallery: tuple = ()) -> list[dict]:
    """Per face: ``identity_distance`` between its input and output embeddings, ``recognisable`` (None when
    the model cannot judge the face) and ``identity_rank`` among the other faces and ``gallery``."""
    if not faces:
        return []
    before = np.stack([embedding.embed(original, face, space) for face in faces])  # [N,D]
    after = np.stack([embedding.embed(masked, face, space) for face in faces])  # [N,D]
    extra = [np.asarray(vector, np.float32).reshape(-1) for vector in gallery]  # G x (D,)
    entries = []
    for index in range(len(faces)):
        kept = embedding.distance(before[index], after[index], space)
        others = [before[other] for other in range(len(faces)) if other != index] + extra
        nearer = sum(embedding.distance(after[index], other, space) < kept for other in others)
        recognisable = embedding.same_person(kept, space)
        if recognisable and embedding.same_person(_erased_distance(original, faces[index], before[index], space),
                                                  space):
            recognisable = None  # as near as an erased face would be: the model cannot judge this face
        entries.append({"identity_distance": round(kept, 4), "recognisable": recognisable,
                        "identity_rank": 1 + int(nearer)})
    return entries


def audit(original: np.ndarray, faces: list[Face], masked: np.ndarray,
          settings: AuditSettings = AuditSettings()) -> dict:
    """JSON-able report: per original face, which detectors still find it and whether it is still
    recognisable; faces found on the output that match no original face (``missed``)."""
    found, second_note = _redetect(masked, settings)
    space, identity_note = identity_space(settings)
    identities = reidentify(original, faces, masked, space, settings.gallery) if space is not None else None
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
            **(identities[index] if identities is not None else _NOT_JUDGED),
        }
        entries.append(entry)
    still = sum(entry["detected"] for entry in entries)
    recognisable = sum(entry["recognisable"] is True for entry in entries)
    missed = _missed(found, matched)
    return {
        "detector": "centerface",
        "detectors": sorted(found),
        "second_detector": blazeface.NAME if second_note is None else f"{blazeface.NAME}: {second_note}",
        "threshold": settings.threshold,
        "second_threshold": settings.second_threshold,
        "iou_match": settings.iou_match,
        "identity": ({"model": space.describe(), "gallery": len(faces) - 1 + len(settings.gallery)}
                     if space is not None else {"model": None, "unavailable": identity_note}),
        "faces": entries,
        "still_detected": still,
        "still_recognisable": recognisable,
        "missed": missed,
        "all_hidden": still == 0 and recognisable == 0 and not missed,
        "other_detections": len(missed),
    }


def face_from_box(bbox: list[float], score: float, detector: str) -> Face:
    """A face for a bare box (keypoints placed where an upright face has them), to be masked."""
    x1, y1, x2, y2 = bbox
    width, height = x2 - x1, y2 - y1
    layout = np.array([[0.32, 0.4], [0.68, 0.4], [0.5, 0.58], [0.36, 0.76], [0.64, 0.76]], np.float32)
    kps = layout * np.array([width, height], np.float32) + np.array([x1, y1], np.float32)
    return Face(bbox=np.array(bbox, np.float32), score=score, kps=kps, detector=detector)
