"""insightface ``buffalo_l``: where its files are, and the conventions its models share.

Files (found through ``models.resolve("buffalo_l")``) and their contracts:

  det_10g.onnx     SCRFD detector, see ``detection/scrfd.py``
  2d106det.onnx    "data" [1,3,192,192] -> "fc1" [1,212]   106 points (x, y) in -1..1 of the crop
  1k3d68.onnx      "data" [1,3,192,192] -> "fc1" [1,3309]  1103 points (x, y, z); the last 68 are iBUG-68
  genderage.onnx   "data" [1,3,96,96]   -> "fc1" [1,3]     (female, male) scores and age / 100
  w600k_r50.onnx   "input.1" [1,3,112,112] -> "683" [1,512] ArcFace embedding of the aligned crop

Every model takes RGB. The landmark and attribute models take a square crop centred on the
box, 1.5 x its longer side; ArcFace takes the five-point aligned crop (``align.py``).
Input normalisation follows insightface's rule: models converted from MXNet start with
their own normalisation (a ``bn_data`` node, or Sub and Mul among the first nodes) and
take raw 0..255 pixels; the others take (pixel - mean) / std.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from .. import models

MODEL_NAME = "buffalo_l"
FILES = {
    "detector": "det_10g.onnx",
    "landmarks_2d": "2d106det.onnx",
    "landmarks_3d": "1k3d68.onnx",
    "genderage": "genderage.onnx",
    "recognition": "w600k_r50.onnx",
}
CROP_EXTENT = 1.5  # crop side / longer box side for landmark and attribute models


def paths(feature: str | None = None) -> dict[str, Path]:
    """Path of every buffalo_l file by role; ModelMissingError (naming ``feature``) when absent."""
    found = {path.name: path for path in models.resolve(MODEL_NAME, feature)}
    return {role: found[name] for role, name in FILES.items()}


def is_available() -> bool:
    return models.is_available(MODEL_NAME)


@lru_cache(maxsize=32)
def _normalisation(path: str, mtime: float, mean: float, std: float) -> tuple[float, float]:
    import onnx

    graph = onnx.load(path, load_external_data=False).graph
    names = [node.name for node in graph.node[:8]]
    has_sub = any(name.startswith(("Sub", "_minus")) for name in names)
    has_mul = any(name.startswith(("Mul", "_mul")) for name in names)
    if "bn_data" in names[:3] or (has_sub and has_mul):
        return 0.0, 1.0
    return mean, std


def input_normalisation(path: Path, mean: float, std: float) -> tuple[float, float]:
    """(mean, std) to apply before ``path``: (0, 1) when the model normalises itself, else the given pair."""
    return _normalisation(str(path), path.stat().st_mtime, mean, std)


def to_blob(crop: np.ndarray, mean: float, std: float) -> np.ndarray:
    """uint8 RGB crop [S,S,3] -> float32 [1,3,S,S]."""
    return ((crop.astype(np.float32) - mean) / std).transpose(2, 0, 1)[None]


def box_crop(image: np.ndarray, bbox: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Square crop [size,size,3] centred on the box, side 1.5 x the box's longer side; and its 2x3 matrix."""
    x1, y1, x2, y2 = (float(value) for value in bbox[:4])
    scale = size / (max(x2 - x1, y2 - y1, 1.0) * CROP_EXTENT)
    center_x, center_y = (x1 + x2) / 2, (y1 + y2) / 2
    matrix = np.array(
        [[scale, 0.0, size / 2 - center_x * scale], [0.0, scale, size / 2 - center_y * scale]], np.float32
    )  # [2,3] image px -> crop px
    return cv2.warpAffine(image, matrix, (size, size), borderValue=0.0), matrix
