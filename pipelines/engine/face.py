"""The ``Face`` record (DESIGN.md §2) and the ``FACES`` batch type.

A ``Face`` holds everything the engine learned about one face in one image.
Arrays are numpy float32; ``to_dict``/``from_dict`` give a lossless JSON round
trip (float32 values survive a trip through Python floats exactly).

``FACES`` is ``list[list[Face]]``: one list per image of an image batch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from ..core.errors import InvalidParameterError

_ARRAY_FIELDS = ("bbox", "kps", "landmarks", "landmarks_3d", "mesh", "iris", "embedding")


def _as_array(value: Any, shape_tail: tuple[int, ...] | None = None) -> np.ndarray | None:
    if value is None:
        return None
    array = np.asarray(value, dtype=np.float32)
    if shape_tail is not None and array.shape[-len(shape_tail):] != shape_tail:
        raise InvalidParameterError(f"a face's array must have the shape (..., {shape_tail}), got {array.shape}")
    return array


@dataclass
class Face:
    """One detected face.

    bbox:          (4,)   x1, y1, x2, y2 in pixels of the source image
    score:         detector confidence 0..1
    kps:           (5, 2) left eye, right eye, nose tip, left mouth corner, right mouth corner
                   ("left" = image left, as insightface and CenterFace order them)
    landmarks:     (N, 2) optional dense 2D landmarks; ``landmark_scheme`` says which set
                   ("68" iBUG, "106" insightface 2d106det, "468" mediapipe)
    landmarks_3d:  (68, 3) optional 3D landmarks (insightface 1k3d68: x, y in pixels, z relative)
    mesh:          (468, 3) optional MediaPipe face mesh: x, y in pixels, z depth in pixels relative to
                   the face centre (nearer < 0); see ``pipelines.face_mesh``
    mesh_score:    the landmark model's face-presence score 0..1 (below 0.5: it doubts this is a face)
    iris:          (2, 3) optional iris centre x, y and radius in pixels, subject's right eye then left
    pose:          (yaw, pitch, roll) in degrees, or None when not estimated
    embedding:     (512,) optional ArcFace embedding, L2-normalised
    age, sex:      optional attributes ("M" / "F")
    flame:         optional FLAME fit as plain JSON-able dict (see pipelines.flame)
    detector:      name of the backend that produced the face
    extra:         free-form JSON-able values a pipeline wants to attach
    """

    bbox: np.ndarray
    score: float
    kps: np.ndarray
    landmarks: np.ndarray | None = None
    landmark_scheme: str | None = None
    landmarks_3d: np.ndarray | None = None
    mesh: np.ndarray | None = None
    mesh_score: float | None = None
    iris: np.ndarray | None = None
    pose: tuple[float, float, float] | None = None
    embedding: np.ndarray | None = None
    age: float | None = None
    sex: str | None = None
    flame: dict | None = None
    detector: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.bbox = _as_array(self.bbox, (4,))
        self.kps = _as_array(self.kps, (5, 2))
        if not (np.isfinite(self.bbox).all() and np.isfinite(self.kps).all()):  # every consumer does pixel maths
            raise InvalidParameterError(f"a face's box and keypoints must be finite numbers, got box "
                                        f"{self.bbox.tolist()}: connect FACES from a face detector")
        self.landmarks = _as_array(self.landmarks, (2,))
        self.landmarks_3d = _as_array(self.landmarks_3d, (3,))
        self.mesh = _as_array(self.mesh, (468, 3))
        self.iris = _as_array(self.iris, (2, 3))
        self.embedding = _as_array(self.embedding)
        self.score = float(self.score)
        if self.mesh_score is not None:
            self.mesh_score = float(self.mesh_score)
        if self.pose is not None:
            self.pose = tuple(float(angle) for angle in self.pose)

    @property
    def width(self) -> float:
        return float(self.bbox[2] - self.bbox[0])

    @property
    def height(self) -> float:
        return float(self.bbox[3] - self.bbox[1])

    @property
    def size(self) -> float:
        """Geometric mean of box width and height, in pixels."""
        return float(np.sqrt(max(self.width, 0.0) * max(self.height, 0.0)))

    @property
    def center(self) -> tuple[float, float]:
        return float(self.bbox[0] + self.bbox[2]) / 2, float(self.bbox[1] + self.bbox[3]) / 2

    @property
    def eye_distance(self) -> float:
        """Distance between the eye keypoints, in pixels."""
        return float(np.linalg.norm(self.kps[1] - self.kps[0]))

    def to_dict(self) -> dict:
        data: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name in _ARRAY_FIELDS and value is not None:
                value = value.tolist()
            elif item.name == "pose" and value is not None:
                value = list(value)
            data[item.name] = value
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Face":
        known = {item.name for item in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown Face fields: {sorted(unknown)}")
        return cls(**data)


Faces = list[list[Face]]


def check_on_image(faces: list[Face], width: int, height: int, what: str) -> None:
    """Refuse a face whose box is empty or wholly outside the ``width`` x ``height`` image, or whose five
    keypoints coincide: FACES made for another image or by hand, on which crops, warps and blends have no
    pixels to work with. ``what`` names the image in the message ("target image 0")."""
    for index, face in enumerate(faces):
        x1, y1, x2, y2 = face.bbox
        if not (x2 > x1 and y2 > y1 and x2 > 0 and y2 > 0 and x1 < width and y1 < height):
            problem = f"has the box {[round(float(value), 1) for value in face.bbox]}, empty or outside the " \
                      f"{width}x{height} image"
        elif np.ptp(face.kps, axis=0).max() < 1.0:  # kps [5,2]
            problem = "has its five keypoints on one spot"
        else:
            continue
        raise InvalidParameterError(f"face {index} of the {what} {problem}: connect the FACES detected on this "
                                    "same image")


def check_faces_of(images: list[np.ndarray], faces: Faces, side: str = "") -> None:
    """Refuse FACES that do not describe ``images`` (uint8 [H,W,3] each) one to one, or with a face off its
    image (``check_on_image``); ``side`` names the batch in messages ("target")."""
    prefix = f"{side} " if side else ""
    if len(faces) != len(images):
        raise InvalidParameterError(
            f"{prefix}FACES describe {len(faces)} images but the {prefix}IMAGE batch has {len(images)}: "
            f"connect the faces detected on this same {prefix}image batch")
    for number, (image, image_faces) in enumerate(zip(images, faces)):
        check_on_image(image_faces, image.shape[1], image.shape[0], f"{prefix}image {number}")


def faces_to_json(faces: Faces) -> str:
    """Serialise a FACES batch: a JSON list (one entry per image) of lists of faces."""
    return json.dumps([[face.to_dict() for face in image_faces] for image_faces in faces])


def faces_from_json(text: str) -> Faces:
    return [[Face.from_dict(item) for item in image_faces] for image_faces in json.loads(text)]
