"""Identity pair sets: faces of one person and of different people, to calibrate and check the privacy
audit's "is the hidden face still recognisable?" (``pipelines/privacy/self_audit.py``).

Two sets, split by PERSON so that no one is in both, on the split the privacy recall sets already use:

- **tuning** (``split="tuning"``): skimage's astronaut, the six people of insightface's t1.jpg and the shared
  fixture photos of even index (``privacy_hard_set.tuning_photos``). The audit's threshold and the strength
  table's 1.0 are chosen here.
- **evaluation** (``split="evaluation"``): the fixture photos of odd index, insightface's Tom Hanks and
  skimage's cameraman (``privacy_eval_set.source_photos``). Only measured. ``examples_alfw2.png`` and
  ``exp_3.jpg`` show one man: they are one identity here, which gives the one same-person pair of two
  different photos.

Every face of at least ``MIN_SIDE`` px found in a source photo (CenterFace, threshold 0.6) is one identity.
Same-person pairs are a face and copies of its photo as a camera or a re-upload would change it
(``copies``: rescaled, re-compressed, turned, another exposure and colour and maybe mirrored, sensor noise),
the face found again in each copy; different-person pairs are every two identities. Every random choice
comes from ``np.random.default_rng(seed)`` (tuning: ``TUNING_SEED``, evaluation: ``EVALUATION_SEED``);
nothing is committed or downloaded. Without ``../shared/fixtures`` the sets hold the packaged faces alone
(``privacy_eval_set.has_fixtures``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

import privacy_eval_set as evaluation
import privacy_hard_set as hard
from playalter.pipelines.engine.detection import detect_faces
from playalter.pipelines.engine.detection.nms import iou
from playalter.pipelines.engine.face import Face

MIN_SIDE = 60  # px: smaller faces of the source photos (background people) are left out
TUNING_SEED, EVALUATION_SEED = 2500, 2599
SAME_PERSON = {"exp_3.jpg": "examples_alfw2.png"}  # a photo -> the identity of the same person in another photo
COPY_SIDES = (64, 96, 140)  # face widths, px, of the rescaled copies


@dataclass(frozen=True)
class SourceFace:
    identity: str  # the person: photo name, with "#n" for the n-th face of a photo of several people
    photo: np.ndarray  # uint8 RGB [H,W,3]
    face: Face


@dataclass(frozen=True)
class Copy:
    change: str  # what was done to the photo
    photo: np.ndarray  # uint8 RGB [H,W,3]
    face: Face  # the source face found again in it


def _photos(split: str) -> dict[str, np.ndarray]:
    if split == "tuning":
        names = ["astronaut", "t1.jpg"] + [path.name for path in hard.tuning_fixtures()]
        return dict(zip(names, hard.tuning_photos()))
    if split == "evaluation":
        return evaluation.source_photos()
    raise ValueError(f"split is 'tuning' or 'evaluation', not {split!r}")


def find(photo: np.ndarray, min_side: float = 0.0) -> list[Face]:
    """Faces of ``photo`` (uint8 RGB [H,W,3]) at least ``min_side`` px wide, largest first."""
    faces = detect_faces(photo, backend="centerface", threshold=0.6, max_side=0, analyse=False, dense=False)
    return sorted((face for face in faces if face.width >= min_side), key=lambda face: -face.width)


def source_faces(split: str) -> list[SourceFace]:
    """Every source face of ``split``, one per identity except for the people ``SAME_PERSON`` joins."""
    faces = []
    for name, photo in _photos(split).items():
        found = find(photo, MIN_SIDE)
        for number, face in enumerate(found):
            identity = SAME_PERSON.get(name, name) + (f"#{number}" if len(found) > 1 else "")
            faces.append(SourceFace(identity, photo, face))
    return faces


def _refound(photo: np.ndarray, boxes: np.ndarray) -> Face | None:
    """The face of ``photo`` overlapping one of ``boxes`` [B,4] most (IoU >= 0.4), None when it is not found."""
    faces = find(photo)
    if not faces:
        return None
    found = np.array([face.bbox for face in faces], np.float32)  # [N,4]
    overlaps = np.max([iou(box, found) for box in boxes], axis=0)  # [N]
    best = int(np.argmax(overlaps))
    return faces[best] if overlaps[best] >= 0.4 else None


def _warped(photo: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return cv2.warpAffine(photo, matrix, size, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)


def copies(source: SourceFace, rng: np.random.Generator) -> list[Copy]:
    """Same-person copies of ``source``'s photo: rescaled so the face is each of ``COPY_SIDES`` px wide, JPEG
    at quality 20-45, turned by 8-25 degrees either way, with another gamma, gain and colour cast and maybe
    mirrored (``privacy_eval_set.augment``), and with sensor noise (sigma 4-10); the face found again in each
    copy, copies where it is not found are left out."""
    photo, box = source.photo, source.face.bbox.astype(np.float32)
    height, width = photo.shape[:2]
    made = []
    for side in COPY_SIDES:  # each change also maps the face box, so the face can be found again
        scale = side / source.face.width
        matrix = np.array([[scale, 0, 0], [0, scale, 0]], np.float32)
        made.append((f"rescaled to {side} px", _warped(photo, matrix, (round(width * scale), round(height * scale))),
                     box * scale))
    quality = int(rng.integers(20, 46))
    made.append((f"JPEG quality {quality}", hard.jpeg(photo, quality), box))
    angle = float(rng.uniform(8, 25) * rng.choice((-1, 1)))
    centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    matrix = cv2.getRotationMatrix2D(centre, angle, 1.0).astype(np.float32)  # [2,3]
    made.append((f"turned {angle:.0f} degrees", _warped(photo, matrix, (width, height)), box))
    mirrored_box = np.array([width - box[2], box[1], width - box[0], box[3]], np.float32)
    made.append(("maybe mirrored, other exposure and colour", evaluation.augment(photo, rng), box, mirrored_box))
    sigma = float(rng.uniform(4, 10))
    noisy = np.clip(photo.astype(np.float32) + rng.normal(0, sigma, photo.shape), 0, 255).astype(np.uint8)
    made.append((f"sensor noise sigma {sigma:.0f}", noisy, box))
    result = []
    for change, image, *boxes in made:
        face = _refound(image, np.array(boxes, np.float32))
        if face is not None:
            result.append(Copy(change, image, face))
    return result


def same_person_pairs(split: str) -> list[tuple[SourceFace, Copy]]:
    """(face, copy of its photo) for every source face of ``split``, and (face, the same person's other photo)."""
    rng = np.random.default_rng(TUNING_SEED if split == "tuning" else EVALUATION_SEED)
    faces = source_faces(split)
    pairs = [(source, copy) for source in faces for copy in copies(source, rng)]
    for first_index, first in enumerate(faces):
        for second in faces[first_index + 1:]:
            if first.identity == second.identity:
                pairs.append((first, Copy("another photo", second.photo, second.face)))
    return pairs


def different_person_pairs(split: str) -> list[tuple[SourceFace, SourceFace]]:
    """Every two source faces of ``split`` that show different people."""
    faces = source_faces(split)
    return [(first, second) for index, first in enumerate(faces) for second in faces[index + 1:]
            if first.identity != second.identity]
