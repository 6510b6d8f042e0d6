"""Face identity: ArcFace (buffalo_l ``w600k_r50.onnx``) embeddings.

The face is aligned on its five keypoints to the 112 x 112 ArcFace crop (``align.py``),
normalised (pixel - 127.5) / 127.5 in RGB (or passed raw when the model normalises itself,
as insightface decides), and the 512-d output is L2-normalised, so the cosine similarity
of two faces is the dot product of their embeddings.
"""

from __future__ import annotations

import numpy as np

from ..models import buffalo
from ..runtime import onnx_runtime
from . import align
from .face import Face

FEATURE = "face identity (ArcFace embedding)"
_MEAN, _STD = 127.5, 127.5


def is_available() -> bool:
    """True when the buffalo_l files (ArcFace among them) are present."""
    return buffalo.is_available()


def embed(image_rgb: np.ndarray, face: Face, device: str = "auto") -> np.ndarray:
    """(512,) float32 L2-normalised embedding of ``face`` in the uint8 RGB image [H,W,3]."""
    model = buffalo.paths(FEATURE)["recognition"]
    session = onnx_runtime.session(model, device=device)
    model_input = session.get_inputs()[0]
    size = int(model_input.shape[2]) if isinstance(model_input.shape[2], int) else 112
    crop, _ = align.crop(image_rgb, face.kps, size)  # [size,size,3]
    mean, std = buffalo.input_normalisation(model, _MEAN, _STD)
    raw = session.run(None, {model_input.name: buffalo.to_blob(crop, mean, std)})[0].reshape(-1)  # [512]
    norm = float(np.linalg.norm(raw))
    return (raw / norm if norm > 0 else raw).astype(np.float32)


def similarity(first: np.ndarray, second: np.ndarray) -> float:
    """Cosine similarity of two embeddings, -1..1."""
    denominator = float(np.linalg.norm(first) * np.linalg.norm(second))
    return float(np.dot(first, second) / denominator) if denominator > 0 else 0.0
