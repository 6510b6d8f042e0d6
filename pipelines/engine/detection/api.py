"""``detect_faces``: backend choice, big-image refinement, per-face analysis, pose and order.

Backends:
  centerface  the embedded default (boxes + 5 points), always available
  buffalo_l   insightface SCRFD + 106 / 68-3D landmarks + sex/age + ArcFace embedding,
              used when its files are present
  auto        buffalo_l when available, else centerface
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import numpy as np

import logging

from ...core.choices import BACKENDS, ORDERS
from ...core.config import settings
from ...core.errors import InvalidParameterError, ModelMissingError
from ...models import buffalo
from .. import analysis, face_mesh, face_mesh_scheme, pose, recognition
from ..face import Face
from . import centerface, scrfd, tiling

FEATURE = "face detection with the buffalo_l backend"
DENSE_LEVELS = (True, False, "full", "mesh")
DENSE_MIN_FACE_SIDE = 24.0  # px: smaller faces get no dense landmarks (the 192 px crop would be mostly blur)

logger = logging.getLogger(__name__)
_dense_warning_logged = False


def order_faces(faces: list[Face], order: str = "largest") -> list[Face]:
    """Deterministic order; ties broken left to right, then top to bottom."""
    if order not in ORDERS:
        raise InvalidParameterError(f"unknown face order '{order}'; choose one of {', '.join(ORDERS)}")
    keys = {
        "largest": lambda face: (-round(face.width * face.height, 3), face.bbox[0], face.bbox[1]),
        "left_to_right": lambda face: (face.bbox[0], face.bbox[1]),
        "right_to_left": lambda face: (-face.bbox[2], face.bbox[1]),
        "top_to_bottom": lambda face: (face.bbox[1], face.bbox[0]),
        "confidence": lambda face: (-face.score, face.bbox[0], face.bbox[1]),
    }
    return sorted(faces, key=keys[order])


def resolve_backend(backend: str = "auto") -> str:
    """The backend that will run. "auto" follows the ``detection.backend`` setting when that names a
    backend, else becomes buffalo_l when its files are present, else centerface."""
    if backend not in BACKENDS:
        raise InvalidParameterError(f"unknown detector backend '{backend}'; choose one of {', '.join(BACKENDS)}")
    if backend == "auto":
        configured = settings().detection.backend
        if configured != "auto":
            return configured
        return "buffalo_l" if buffalo.is_available() else "centerface"
    return backend


def _check_options(image: np.ndarray, threshold: float, max_side: int) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        shape = getattr(image, "shape", None)
        raise InvalidParameterError(f"detect_faces needs a uint8 RGB image [H,W,3]; got shape {shape}")
    if not 0.0 < threshold < 1.0:
        raise InvalidParameterError(f"detection threshold must be between 0 and 1, got {threshold}")
    if max_side < 0 or (max_side and max_side < 32):
        raise InvalidParameterError(f"max_side must be 0 (full resolution) or at least 32, got {max_side}")


def _box_detector(backend: str, files: dict[str, Path] | None,
                  device: str) -> tuple[tiling.BoxDetector, Callable[[int], int]]:
    """One detector pass ``(image, threshold, side) -> (boxes, kps)`` and the max_side -> side rule."""
    if backend == "centerface":
        return (lambda image, threshold, side: centerface.detect_boxes(image, threshold, side, device),
                centerface.input_side)

    def run_scrfd(image: np.ndarray, threshold: float, side: int) -> tuple[np.ndarray, np.ndarray]:
        return scrfd.detect(files["detector"], image, threshold, side or scrfd.full_side(image), device)

    return run_scrfd, scrfd.input_side


def _analyse_buffalo(files: dict[str, Path], image: np.ndarray, face: Face, device: str) -> None:
    """Fill 106 landmarks, 68 3D landmarks, sex, age and the ArcFace embedding of ``face``."""
    face.landmarks = analysis.landmarks_106(files["landmarks_2d"], image, face.bbox, device)
    face.landmark_scheme = "106"
    face.landmarks_3d = analysis.landmarks_68_3d(files["landmarks_3d"], image, face.bbox, device)
    face.sex, face.age = analysis.sex_and_age(files["genderage"], image, face.bbox, device)
    face.embedding = recognition.embed(image, face, device)


def _add_dense_landmarks(image: np.ndarray, faces: list[Face], full: bool) -> None:
    """468-point mesh and presence score of each face: with irises and the refined mesh (``full``), else
    the outline mesh of all faces at once; the iBUG-68 subset becomes a face's landmarks unless a buffalo_l
    landmark set is already there."""
    if full:
        dense = [face_mesh.dense_landmarks(image, face.bbox, face.kps) for face in faces]
    else:
        dense = face_mesh.outline_meshes(image, np.array([face.bbox for face in faces]),
                                         np.array([face.kps for face in faces]))
    for face, landmarks in zip(faces, dense):
        face.mesh, face.mesh_score, face.iris = landmarks.points, landmarks.score, landmarks.iris
        if face.landmarks is None:
            face.landmarks = face_mesh_scheme.to_ibug68(landmarks.points[:, :2])
            face.landmark_scheme = "68"


def _dense_models_ready() -> bool:
    """True when the dense-landmark models are on disk or could be fetched; else one warning per process."""
    global _dense_warning_logged
    try:
        face_mesh.model_paths()
    except ModelMissingError as error:
        if not _dense_warning_logged:
            logger.warning("faces get no dense landmarks: %s", error)
            _dense_warning_logged = True
        return False
    return True


def detect_faces(image, backend: str = "auto", threshold: float = 0.5, max_side: int = 1280,
                 order: str = "largest", device: str = "auto", analyse: bool = True,
                 dense: bool | str = True) -> list[Face]:
    """Faces in one uint8 RGB image [H,W,3], ordered.

    threshold: detector confidence 0..1.  max_side: longest side the detector sees in one pass
    (bigger images are detected at that size, then refined around possible small faces; 0 = full
    resolution; SCRFD never uses more than its trained 640).  device: "auto", "cpu" or "cuda".
    analyse: with buffalo_l, also compute landmarks, sex/age and the embedding.
    dense: add MediaPipe's 468-point mesh and irises to faces of at least ``DENSE_MIN_FACE_SIDE`` px
    (models fetched on first use when allowed; without them faces keep what the detector gave);
    dense="mesh" gives the outline mesh alone (``face_mesh.outline_meshes``: the privacy masks' outline, the
    faces batched), True or "full" everything.
    Every face gets a head pose from the best landmarks it has.
    """
    _check_options(image, threshold, max_side)
    if dense not in DENSE_LEVELS:
        raise InvalidParameterError(f"dense must be true, false, 'full' or 'mesh'; got {dense!r}")
    chosen = resolve_backend(backend)
    files = buffalo.paths(FEATURE) if chosen == "buffalo_l" else None
    run_pass, side_rule = _box_detector(chosen, files, device)
    boxes, kps = tiling.detect_with_refinement(run_pass, image, threshold, side_rule(max_side))
    analyser = None if files is None or not analyse else lambda face: _analyse_buffalo(files, image, face, device)
    return finish_faces(image, boxes, kps, chosen, dense, order, analyser)


def finish_faces(image: np.ndarray, boxes: np.ndarray, kps: np.ndarray, detector: str, dense: bool | str = True,
                 order: str = "largest", analyser: Callable[[Face], None] | None = None) -> list[Face]:
    """Faces from boxes [N,5] and kps [N,5,2]: analysed (``analyser``), dense landmarks where big
    enough and wanted, a head pose each, ordered."""
    faces = [Face(bbox=boxes[i, :4], score=float(boxes[i, 4]), kps=kps[i], detector=detector)
             for i in range(len(boxes))]
    if analyser is not None:
        for face in faces:
            analyser(face)
    if dense and faces and _dense_models_ready():
        big_enough = [face for face in faces if min(face.width, face.height) >= DENSE_MIN_FACE_SIDE]
        _add_dense_landmarks(image, big_enough, full=dense != "mesh")
    for face in faces:
        face.pose = pose.estimate(face, image.shape[:2])
    return order_faces(faces, order)


def detect_faces_batch(images: Iterable[np.ndarray], on_image: Callable[[int], None] | None = None,
                       **options) -> list[list[Face]]:
    """``detect_faces`` over a list of images (FACES layout); ``on_image(index)`` after each one."""
    results = []
    for index, image in enumerate(images):
        results.append(detect_faces(image, **options))
        if on_image is not None:
            on_image(index)
    return results
