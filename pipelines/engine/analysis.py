"""Per-face analysis with buffalo_l: 106 2D landmarks, 68 3D landmarks, sex and age.

Each function takes the uint8 RGB image [H,W,3] and the model path, crops around the
face box (``buffalo.box_crop``), runs the model and maps the result back to image pixels.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..core.errors import ModelCorruptError
from ..models import buffalo
from ..runtime import onnx_runtime

_RAW_MEAN, _RAW_STD = 127.5, 128.0  # used only by models that do not normalise themselves


def _run_on_box_crop(model: Path, image: np.ndarray, bbox: np.ndarray, device: str,
                     expected_size: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Model output row [K] (K = ``expected_size``), the crop matrix [2,3] and the crop side."""
    session = onnx_runtime.session(model, device=device)
    model_input = session.get_inputs()[0]
    size = int(model_input.shape[2])
    crop, matrix = buffalo.box_crop(image, bbox, size)
    mean, std = buffalo.input_normalisation(model, _RAW_MEAN, _RAW_STD)
    output = session.run(None, {model_input.name: buffalo.to_blob(crop, mean, std)})[0].reshape(-1)
    if output.size != expected_size:
        raise ModelCorruptError(
            f"{model} gives {output.size} values where insightface's {model.name} gives {expected_size}: "
            "re-download buffalo_l"
        )
    return output, matrix, size


def _crop_to_image(points: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Points [N,2|3] in -1..1 crop units -> image pixels (z scaled like x and y)."""
    inverse = cv2.invertAffineTransform(matrix)  # [2,3] crop px -> image px
    result = points.astype(np.float32).copy()
    crop_xy = (points[:, :2] + 1.0) * (size / 2)  # [N,2] crop px
    result[:, :2] = crop_xy @ inverse[:, :2].T + inverse[:, 2]
    if points.shape[1] == 3:
        result[:, 2] = points[:, 2] * (size / 2) * float(np.hypot(*inverse[0, :2]))
    return result


def landmarks_106(model: Path, image: np.ndarray, bbox: np.ndarray, device: str = "auto") -> np.ndarray:
    """[106,2] image pixels from 2d106det."""
    output, matrix, size = _run_on_box_crop(model, image, bbox, device, 106 * 2)
    return _crop_to_image(output.reshape(106, 2), matrix, size)


def landmarks_68_3d(model: Path, image: np.ndarray, bbox: np.ndarray, device: str = "auto") -> np.ndarray:
    """[68,3] from 1k3d68: x, y in image pixels, z relative depth in the same pixel scale."""
    output, matrix, size = _run_on_box_crop(model, image, bbox, device, 1103 * 3)
    return _crop_to_image(output.reshape(1103, 3)[-68:], matrix, size)


def sex_and_age(model: Path, image: np.ndarray, bbox: np.ndarray, device: str = "auto") -> tuple[str, float]:
    """("F" | "M", age in years) from genderage: scores (female, male) and age / 100."""
    output, _, _ = _run_on_box_crop(model, image, bbox, device, 3)
    sex = "M" if output[1] > output[0] else "F"
    return sex, float(np.round(output[2] * 100.0))
