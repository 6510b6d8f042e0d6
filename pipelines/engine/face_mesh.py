"""Dense face landmarks: MediaPipe Face Mesh (468 3D points) and MediaPipe Iris, run by OpenCV.

Both models are TFLite files (Apache-2.0) read with ``cv2.dnn.readNetFromTFLite``; OpenCV is already a
dependency, so no TFLite runtime is needed. MediaPipe's classic graph is followed:

1. a square crop around the detector's box, 1.5 x its longer side, rotated so that the eye keypoints are
   level (roll removed), resized to 192 x 192, RGB in 0..1 -> 468 points (x, y, z in crop pixels) and a
   face-presence logit;
2. a second crop placed from those points (their box, 1.5 x, eyes 33-263 level), which centres the face
   as MediaPipe's tracking mode does, and the final points;
3. per eye, a square crop 2.3 x the eye-corner distance, 64 x 64 (the subject's left eye mirrored, as the
   model was trained on one side) -> 5 iris points (centre + 4 on the limbus) -> centre and radius (half the
   distance between the two horizontal limbus points: the horizontal visible iris diameter, which the lids
   do not cover).

Point conventions: ``points[:, :2]`` are image pixels; ``points[:, 2]`` is depth in the same pixel scale,
relative to the face's centre, smaller = nearer the camera (MediaPipe's sign). Index 33 is the outer
corner of the subject's right eye (image left on a frontal face), 263 that of the left eye.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .. import models
from ..models.download import ensure
from . import face_mesh_scheme

FEATURE = "dense face landmarks"
MESH_SIZE = 192
IRIS_SIZE = 64
FACE_CROP_SCALE = 1.5
EYE_CROP_SCALE = 2.3
PRESENCE_THRESHOLD = 0.5  # below it the landmark model says "no face here": points kept, face marked
MESH_BATCH = 16  # crops per model call: OpenCV's time per crop falls to about 2/3 up to here, then rises
EYE_CORNERS = ((33, 133), (263, 362))  # (outer, inner) corners: subject's right eye, left eye
_MESH_OUTPUTS = ["conv2d_21", "conv2d_31"]  # [1,1404,1,1] points, [1,1,1,1] presence logit
_IRIS_OUTPUTS = ["output_eyes_contours_and_brows", "output_iris"]  # [1,213], [1,15]

_nets: dict[tuple[str, int], cv2.dnn.Net] = {}
_lock = threading.Lock()


@dataclass
class DenseLandmarks:
    """The dense landmarks of one face.

    points:  [468,3] x, y image pixels; z depth in pixels relative to the face centre (nearer < 0)
    score:   face presence 0..1 from the landmark model
    iris:    [2,3] per eye (subject's right, left): centre x, y and radius in pixels; None if not run
    """

    points: np.ndarray
    score: float
    iris: np.ndarray | None

    @property
    def is_face(self) -> bool:
        return self.score >= PRESENCE_THRESHOLD


def model_paths() -> tuple[Path, Path]:
    """(face mesh, iris) model files, fetched on first use when allowed (ModelMissingError otherwise)."""
    return ensure("face_mesh", FEATURE)[0], ensure("iris", FEATURE)[0]


def is_available() -> bool:
    """True when both models are on disk (no download is attempted)."""
    return models.is_available("face_mesh") and models.is_available("iris")


def _net(path: Path) -> cv2.dnn.Net:
    """One network per model file and thread (cv2.dnn.Net is not safe to share between threads)."""
    key = (str(path), threading.get_ident())
    with _lock:
        net = _nets.get(key)
        if net is None:
            engine = getattr(cv2.dnn, "ENGINE_CLASSIC", None)  # OpenCV 5's new engine returns one output only
            net = cv2.dnn.readNetFromTFLite(str(path)) if engine is None else cv2.dnn.readNetFromTFLite(str(path), engine)
            _nets[key] = net
    return net


def crop_matrix(center: np.ndarray, side: float, angle: float, size: int) -> np.ndarray:
    """[2,3] affine image px -> crop px for a square of ``side`` pixels around ``center``, rotated by
    ``angle`` radians (the crop's x axis follows that direction in the image), resized to ``size``."""
    cos, sin = np.cos(angle), np.sin(angle)
    scale = size / side
    rotation = np.array([[cos, sin], [-sin, cos]]) * scale  # [2,2]
    shift = size / 2 - rotation @ np.asarray(center, np.float64)  # [2]
    return np.hstack([rotation, shift[:, None]]).astype(np.float32)


def warp_crop(image: np.ndarray, matrix: np.ndarray, center: np.ndarray, side: float, size: int) -> np.ndarray:
    """uint8 [size,size,3] crop by ``matrix`` (from ``crop_matrix(center, side, ...)``). When the crop shrinks
    the image more than 2 x, the region is first reduced by area averaging: bilinear sampling alone would
    alias (sparse samples of a big face make the landmarks jitter with sub-pixel shifts)."""
    shrink = side / size
    if shrink <= 2:
        return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    half = side * 0.75  # > side / sqrt(2): holds the rotated square
    x0, y0 = (max(int(np.floor(c - half)), 0) for c in center)
    x1, y1 = min(int(np.ceil(center[0] + half)), image.shape[1]), min(int(np.ceil(center[1] + half)), image.shape[0])
    if x1 - x0 < 2 or y1 - y0 < 2:
        return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    region = image[y0:y1, x0:x1]
    width, height = max(int(round((x1 - x0) / shrink)), 1), max(int(round((y1 - y0) / shrink)), 1)
    small = cv2.resize(region, (width, height), interpolation=cv2.INTER_AREA)
    to_region = np.array([[width / (x1 - x0), 0, 0], [0, height / (y1 - y0), 0]])  # [2,3] small px per region px
    shift = np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], np.float64)  # region px -> image px
    small_to_image = shift @ np.vstack([cv2.invertAffineTransform(to_region.astype(np.float32)), [0, 0, 1]])
    combined = (matrix.astype(np.float64) @ small_to_image).astype(np.float32)  # [2,3] small px -> crop px
    return cv2.warpAffine(small, combined, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _to_image(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Crop points [N,2] -> image pixels [N,2]."""
    inverse = cv2.invertAffineTransform(matrix)  # [2,3]
    return points @ inverse[:, :2].T + inverse[:, 2]


def _blob(crop: np.ndarray) -> np.ndarray:
    """uint8 RGB [S,S,3] -> float32 [1,3,S,S] in 0..1 (OpenCV's TFLite importer takes NCHW)."""
    return np.ascontiguousarray(crop.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0


def _run_meshes(net: cv2.dnn.Net, image: np.ndarray, placements: list[tuple[np.ndarray, float, float]],
                mirror_average: bool = False) -> list[tuple[np.ndarray, float]]:
    """(points [468,3] image px / px depth, presence 0..1) per crop placement (centre, side, angle), the
    crops batched (``MESH_BATCH``).

    mirror_average: also run each horizontally flipped crop, map its points back (x flipped, left/right
    vertex pairs swapped) and average: the model is not exactly mirror-symmetric, and the average makes
    a photo and its mirror image give mirrored meshes."""
    matrices = [crop_matrix(center, side, angle, MESH_SIZE) for center, side, angle in placements]
    crops = [warp_crop(image, matrix, center, side, MESH_SIZE)
             for matrix, (center, side, _) in zip(matrices, placements)]
    if mirror_average:
        crops += [crop[:, ::-1] for crop in crops]
    crop_points, logits = _mesh_forward(net, crops)  # [N or 2N,468,3], [N or 2N]
    if mirror_average:
        count = len(placements)
        flipped = crop_points[count:][:, face_mesh_scheme.mirror_pairs()]
        flipped[..., 0] = MESH_SIZE - flipped[..., 0]
        crop_points = (crop_points[:count] + flipped) / 2
        logits = (logits[:count] + logits[count:]) / 2
    results = []
    for matrix, (_, side, _), raw, logit in zip(matrices, placements, crop_points, logits):
        points = np.empty_like(raw)
        points[:, :2] = _to_image(matrix, raw[:, :2])
        points[:, 2] = raw[:, 2] * side / MESH_SIZE
        results.append((points, float(1.0 / (1.0 + np.exp(-logit)))))
    return results


def _mesh_forward(net: cv2.dnn.Net, crops: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(points [N,468,3] crop px, presence logits [N]) of N 192 x 192 crops, ``MESH_BATCH`` per model call."""
    points, logits = [], []
    for start in range(0, len(crops), MESH_BATCH):
        chunk = crops[start:start + MESH_BATCH]
        net.setInput(np.concatenate([_blob(crop) for crop in chunk]))
        raw, logit = net.forward(_MESH_OUTPUTS)
        points.append(raw.reshape(len(chunk), 468, 3))
        logits.append(logit.reshape(len(chunk)))
    return np.concatenate(points).astype(np.float64), np.concatenate(logits).astype(np.float64)


def _placement_from_box(bbox: np.ndarray, kps: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(centre [2], side, angle) of MediaPipe's detection-based crop: the box's centre, 1.5 x its longer
    side, rotated so that the eye keypoints are level."""
    eye_line = kps[1] - kps[0]
    center = np.array([(bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2])
    side = float(max(bbox[2] - bbox[0], bbox[3] - bbox[1])) * FACE_CROP_SCALE
    return center, side, float(np.arctan2(eye_line[1], eye_line[0]))


def _placement_from_points(points: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(centre [2], side, angle) of MediaPipe's landmark-based crop: eyes level, box of the points 1.5 x."""
    outer_right, outer_left = points[33, :2], points[263, :2]
    angle = float(np.arctan2(*(outer_left - outer_right)[::-1]))
    cos, sin = np.cos(angle), np.sin(angle)
    upright = points[:, :2] @ np.array([[cos, -sin], [sin, cos]])  # [468,2] in the face's own axes
    low, high = upright.min(axis=0), upright.max(axis=0)
    center = ((low + high) / 2) @ np.array([[cos, sin], [-sin, cos]])
    return center, float((high - low).max() * FACE_CROP_SCALE), angle


def _eye_crop(image: np.ndarray, outer: np.ndarray, inner: np.ndarray, mirrored: bool) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 crop [64,64,3], matrix [2,3] image px -> unmirrored crop px) of one eye."""
    span = inner - outer if not mirrored else outer - inner  # image-left to image-right on a frontal face
    angle = float(np.arctan2(span[1], span[0]))
    side = float(np.linalg.norm(span)) * EYE_CROP_SCALE
    matrix = crop_matrix((outer + inner) / 2, side, angle, IRIS_SIZE)
    crop = warp_crop(image, matrix, (outer + inner) / 2, side, IRIS_SIZE)
    return (crop[:, ::-1] if mirrored else crop), matrix


def _run_irises(net: cv2.dnn.Net, image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """[2,3] iris centre x, y and radius in image pixels, subject's right eye then left, in one batch."""
    mirrored = (False, True)  # the model sees every eye as a subject's right eye
    crops, matrices = zip(*(_eye_crop(image, points[outer, :2], points[inner, :2], flip)
                            for (outer, inner), flip in zip(EYE_CORNERS, mirrored)))
    net.setInput(np.concatenate([_blob(crop) for crop in crops]))
    _, raw = net.forward(_IRIS_OUTPUTS)
    result = np.empty((2, 3))
    for eye, (matrix, flip) in enumerate(zip(matrices, mirrored)):
        iris = raw.reshape(2, 5, 3)[eye, :, :2].astype(np.float64)  # [5,2] centre, then 4 limbus points (crop px)
        if flip:
            iris[:, 0] = IRIS_SIZE - iris[:, 0]
        iris = _to_image(matrix, iris)
        radius = float(np.linalg.norm(iris[1] - iris[3])) / 2  # horizontal limbus points: lids cover the vertical ones
        result[eye] = iris[0, 0], iris[0, 1], radius
    return result


def dense_landmarks(image: np.ndarray, bbox: np.ndarray, kps: np.ndarray, with_iris: bool = True,
                    mirror_average: bool = True) -> DenseLandmarks:
    """Dense landmarks of the face in ``bbox`` [4] with keypoints ``kps`` [5,2] of a uint8 RGB image [H,W,3]:
    steps 1 to 3 above. ``with_iris`` and ``mirror_average`` (step 2 also on the mirrored crop) serve
    measurement; ``outline_meshes`` is the cheaper form for masks."""
    mesh_path, iris_path = model_paths()
    mesh_net = _net(mesh_path)
    [(first, _)] = _run_meshes(mesh_net, image, [_placement_from_box(bbox, kps)])
    [(points, score)] = _run_meshes(mesh_net, image, [_placement_from_points(first)], mirror_average)
    iris = None
    if with_iris:
        iris = _run_irises(_net(iris_path), image, points)
    return DenseLandmarks(points.astype(np.float32), score, None if iris is None else iris.astype(np.float32))


def outline_meshes(image: np.ndarray, boxes: np.ndarray, kps: np.ndarray) -> list[DenseLandmarks]:
    """The mesh alone (no irises) of each face in ``boxes`` [N,4] with keypoints ``kps`` [N,5,2]: step 1 for
    every face, batched, the crop placed from the detector as MediaPipe places a face it has just
    detected; step 2, again batched, only for the faces step 1 doubted (presence below
    ``PRESENCE_THRESHOLD``: mostly profiles, whose detector eye keypoints misplace the crop). The privacy
    masks' outline, at a fraction of ``dense_landmarks``' time per face and nearly its mask
    (docs/face-engine.md)."""
    if not len(boxes):
        return []
    net = _net(model_paths()[0])
    results = _run_meshes(net, image, [_placement_from_box(box, points) for box, points in zip(boxes, kps)])
    doubted = [index for index, (_, score) in enumerate(results) if score < PRESENCE_THRESHOLD]
    if doubted:
        placements = [_placement_from_points(results[index][0]) for index in doubted]
        for index, refined in zip(doubted, _run_meshes(net, image, placements)):
            results[index] = refined
    return [DenseLandmarks(points.astype(np.float32), score, None) for points, score in results]
