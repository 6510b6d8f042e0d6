"""InSwapper 128 (``inswapper_128.onnx``): load, compute the source latent, swap one face.

Model contract (as insightface's ``model_zoo/inswapper.py`` uses it):
- input ``target``: [1,3,128,128] float32, the target face aligned with the
  five-point template for size 128 (``align.crop(image, kps, 128)``), RGB / 255;
- input ``source``: [1,512] float32, the source identity latent:
  ``normalise(normalise(arcface_embedding) @ emap)`` where ``emap`` [512,512]
  is the model's LAST graph initializer;
- output: [1,3,128,128] float32 RGB in 0..1, the swapped aligned face.
The output is pasted back with the inverse of the alignment matrix.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .. import models
from ..core.errors import ModelCorruptError
from ..engine import align
from ..engine.face import Face
from ..runtime import onnx_runtime
from .blend import Patch, region

MODEL = "inswapper_128"
FEATURE = "face swap (InSwapper)"
SIZE = 128
EMBEDDING_SIZE = 512


@dataclass(frozen=True)
class Swapper:
    session: object  # onnxruntime.InferenceSession
    emap: np.ndarray  # [512,512] float32
    target_input: str
    source_input: str
    output: str
    path: str


_cache: dict[tuple[str, str], Swapper] = {}
_lock = threading.Lock()


def is_available() -> bool:
    return models.is_available(MODEL)


def model_path() -> Path:
    """The model file, or ModelMissingError naming every folder searched."""
    return models.resolve(MODEL, FEATURE)[0]


def load(path: str | Path | None = None, device: str = "auto") -> Swapper:
    """A cached Swapper for ``path`` (default: the registry's inswapper_128.onnx)."""
    path = Path(path) if path is not None else model_path()
    key = (str(path.resolve()), device)
    with _lock:
        if key not in _cache:
            _cache[key] = _load(path, device)
        return _cache[key]


def _load(path: Path, device: str) -> Swapper:
    import onnx
    from onnx import numpy_helper

    try:
        graph = onnx.load(str(path)).graph
    except Exception as error:  # onnx raises DecodeError and friends for a damaged file
        raise ModelCorruptError(f"{path} is not a readable ONNX model ({error}); re-download it") from None
    emap = numpy_helper.to_array(graph.initializer[-1]).astype(np.float32) if graph.initializer else None
    if emap is None or emap.shape != (EMBEDDING_SIZE, EMBEDDING_SIZE):
        shape = None if emap is None else emap.shape
        raise ModelCorruptError(
            f"{path} does not look like inswapper_128: its last initializer (emap) has shape {shape}")
    session = onnx_runtime.session(path, device=device)
    inputs = {item.name: item for item in session.get_inputs()}
    if set(inputs) != {"target", "source"} or len(session.get_outputs()) != 1:
        raise ModelCorruptError(
            f"{path} does not look like inswapper_128: inputs {sorted(inputs)}, expected ['source', 'target']"
        )
    return Swapper(session, emap, "target", "source", session.get_outputs()[0].name, str(path))


def source_latent(embedding: np.ndarray, emap: np.ndarray) -> np.ndarray:
    """[1,512] latent: the normalised embedding times emap, normalised again."""
    normed = np.asarray(embedding, np.float32).reshape(1, -1)  # [1,512]
    normed = normed / np.linalg.norm(normed)
    latent = normed @ emap  # [1,512]
    return (latent / np.linalg.norm(latent)).astype(np.float32)


def target_blob(aligned: np.ndarray) -> np.ndarray:
    """[1,3,128,128] float32 RGB 0..1 from an aligned uint8 crop [128,128,3]."""
    return (aligned.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]


def run(swapper: Swapper, aligned: np.ndarray, latent: np.ndarray) -> np.ndarray:
    """Swapped aligned face [128,128,3] uint8 RGB."""
    prediction = swapper.session.run(
        [swapper.output], {swapper.target_input: target_blob(aligned), swapper.source_input: latent}
    )[0]  # [1,3,128,128]
    return np.clip(np.rint(prediction[0].transpose(1, 2, 0) * 255.0), 0, 255).astype(np.uint8)


def paste(swapped: np.ndarray, matrix: np.ndarray, target_image: np.ndarray, face: Face) -> Patch:
    """Warp the aligned result [128,128,3] back into the target frame, cropped to the face region."""
    x0, y0, x1, y1 = region(face, target_image.shape)
    inverse = cv2.invertAffineTransform(matrix)  # [2,3] crop -> image
    inverse[:, 2] -= (x0, y0)  # crop -> region
    size = (x1 - x0, y1 - y0)
    image = cv2.warpAffine(swapped, inverse, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    valid = cv2.warpAffine(np.full((SIZE, SIZE), 255, np.uint8), inverse, size, flags=cv2.INTER_NEAREST) > 0
    return Patch(x0, y0, image, valid)


def swap(swapper: Swapper, target_image: np.ndarray, face: Face, embedding: np.ndarray) -> Patch:
    """The target face rendered with the source identity, as a Patch in the target frame."""
    aligned, matrix = align.crop(target_image, face.kps, SIZE)  # [128,128,3], [2,3]
    return paste(run(swapper, aligned, source_latent(embedding, swapper.emap)), matrix, target_image, face)
