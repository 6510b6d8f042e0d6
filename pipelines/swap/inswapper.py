"""The learned swap: InSwapper 128 and the 256-px models that share its interface (``swappers.py``).

One face is swapped in four steps:
1. align: the target face warped to the model's five-point template (with its shift) scaled by
   output_size / size, into an ``output_size`` crop;
2. identity: the source's ArcFace embedding, blended with the target's by ``weight``, turned into what
   the model takes (``Contract.identity``: the emap latent, or the normalised embedding);
3. render: the model run on the crop; above the model's size, once per sub-image of the pixel-boost
   grid (``pixel_boost.py``), the results interleaved back;
4. paste: the rendered crop warped back with the inverse of the alignment matrix, cut to the face region.

InSwapper 128's contract, as insightface's ``model_zoo/inswapper.py`` uses it: input ``target``
[1,3,128,128] float32 RGB / 255 aligned with the five-point template for size 128; input ``source``
[1,512] float32 latent ``normalise(normalise(arcface_embedding) @ emap)`` where ``emap`` [512,512] is
the model's LAST graph initializer; output [1,3,128,128] float32 RGB in 0..1. The other models' are in
``swappers.CONTRACTS`` and docs/swap.md.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .. import models
from ..core.errors import InvalidParameterError, ModelCorruptError
from ..engine import align
from ..engine.face import Face
from ..runtime import onnx_runtime
from . import pixel_boost
from .blend import Patch, region
from .swappers import CONTRACTS, FEATURE, Contract

MODEL = "inswapper_128"
EMBEDDING_SIZE = 512


@dataclass(frozen=True)
class Swapper:
    session: object  # onnxruntime.InferenceSession
    contract: Contract
    emap: np.ndarray | None  # [512,512] float32 for contracts whose identity is the emap latent, else None
    target_input: str
    source_input: str
    output: str
    path: str


_cache: dict[tuple[str, str, str], Swapper] = {}
_lock = threading.Lock()


def is_available() -> bool:
    return models.is_available(MODEL)


def model_path(model: str = MODEL) -> Path:
    """The model's file, or ModelMissingError naming every folder searched."""
    return models.resolve(model, FEATURE)[0]


def load(path: str | Path | None = None, device: str = "auto", model: str = MODEL) -> Swapper:
    """A cached Swapper for ``model`` (a ``swappers.CONTRACTS`` name) from ``path`` (default: the registry's)."""
    path = Path(path) if path is not None else model_path(model)
    key = (str(path.resolve()), device, model)
    with _lock:
        if key not in _cache:
            _cache[key] = _load(path, device, CONTRACTS[model])
        return _cache[key]


def _load(path: Path, device: str, contract: Contract) -> Swapper:
    import onnx
    from onnx import numpy_helper

    try:
        graph = onnx.load(str(path)).graph
    except Exception as error:  # onnx raises DecodeError and friends for a damaged file
        raise ModelCorruptError(f"{path} is not a readable ONNX model ({error}); re-download it") from None
    emap = None
    if contract.uses_emap:
        emap = numpy_helper.to_array(graph.initializer[-1]).astype(np.float32) if graph.initializer else None
        if emap is None or emap.shape != (EMBEDDING_SIZE, EMBEDDING_SIZE):
            shape = None if emap is None else emap.shape
            raise ModelCorruptError(
                f"{path} does not look like {contract.name}: its last initializer (emap) has shape {shape}")
    session = onnx_runtime.session(path, device=device)
    inputs = {item.name: item for item in session.get_inputs()}
    if set(inputs) != {"target", "source"}:
        raise ModelCorruptError(
            f"{path} does not look like {contract.name}: inputs {sorted(inputs)}, expected ['source', 'target']")
    side = inputs["target"].shape[-1]
    if isinstance(side, int) and side != contract.size:
        raise ModelCorruptError(
            f"{path} does not look like {contract.name}: it takes {side}-px faces, expected {contract.size}")
    return Swapper(session, contract, emap, "target", "source", session.get_outputs()[0].name, str(path))


def _normalised(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, np.float32).reshape(1, -1)  # [1,512]
    return vector / np.linalg.norm(vector)


def source_latent(embedding: np.ndarray, emap: np.ndarray) -> np.ndarray:
    """[1,512] latent: the normalised embedding times emap, normalised again."""
    return _normalised(_normalised(embedding) @ emap)


def blended_embedding(source: np.ndarray, target: np.ndarray | None, weight: float) -> np.ndarray:
    """[1,512] normalised identity between the target's (weight 0) and the source's (weight 1): the
    normalised sum ``weight * source + (1 - weight) * target`` of the normalised embeddings."""
    if weight == 1.0:
        return _normalised(source)
    if target is None:
        raise InvalidParameterError(
            "a swap weight below 1 blends in the target's own identity, which needs the target face's ArcFace "
            "embedding: install buffalo_l or detect the target with it")
    return _normalised(weight * _normalised(source) + (1.0 - weight) * _normalised(target))


def identity_input(swapper: Swapper, embedding: np.ndarray) -> np.ndarray:
    """[1,512] float32 ``source`` input for an ArcFace embedding, as the model's contract wants it."""
    if swapper.contract.uses_emap:
        return source_latent(embedding, swapper.emap)
    return _normalised(embedding)


def target_blob(aligned: np.ndarray, pixels: str = "unit") -> np.ndarray:
    """[1,3,s,s] float32 from an aligned uint8 RGB crop [s,s,3]: RGB / 255 ("unit"), or mapped to -1..1 ("signed")."""
    unit = aligned.astype(np.float32) / 255.0
    values = (unit - 0.5) / 0.5 if pixels == "signed" else unit
    return values.transpose(2, 0, 1)[None]


def output_image(prediction: np.ndarray, pixels: str = "unit") -> np.ndarray:
    """[s,s,3] uint8 RGB from one model output [3,s,s] (the inverse of ``target_blob``)."""
    unit = prediction * 0.5 + 0.5 if pixels == "signed" else prediction
    return np.clip(np.rint(unit.transpose(1, 2, 0) * 255.0), 0, 255).astype(np.uint8)


def run(swapper: Swapper, aligned: np.ndarray, identity: np.ndarray) -> np.ndarray:
    """One model pass: the swapped aligned face [s,s,3] uint8 RGB for a crop [s,s,3] at the model's size."""
    pixels = swapper.contract.pixels
    prediction = swapper.session.run(
        [swapper.output], {swapper.target_input: target_blob(aligned, pixels), swapper.source_input: identity}
    )[0]  # [1,3,s,s]
    return output_image(prediction[0], pixels)


def render(swapper: Swapper, aligned: np.ndarray, identity: np.ndarray) -> np.ndarray:
    """The swapped crop [k*s,k*s,3] for an aligned crop [k*s,k*s,3]: one pass per pixel-boost sub-image."""
    k = pixel_boost.factor(aligned.shape[0], swapper.contract.size)
    if k == 1:
        return run(swapper, aligned, identity)
    return pixel_boost.join([run(swapper, tile, identity) for tile in pixel_boost.split(aligned, k)], k)


def output_side(swapper: Swapper, output_size: int | None) -> int:
    """The side of the swapped face: ``output_size``, but never below the model's own size."""
    return max(output_size or 0, swapper.contract.size)


def crop(swapper: Swapper, image: np.ndarray, kps: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Aligned crop [side,side,3] on the model's template scaled to ``side``, and the 2x3 matrix used."""
    scale = side / swapper.contract.size
    points = (align.template(swapper.contract.size) + swapper.contract.template_shift) * scale  # [5,2]
    return align.crop_to(image, kps, points, side)


def paste(swapped: np.ndarray, matrix: np.ndarray, target_image: np.ndarray, face: Face) -> Patch:
    """Warp the aligned result [s,s,3] back into the target frame, cropped to the face region."""
    box = region(face, target_image.shape)
    image, valid = align.warp_back(swapped, matrix, box, cv2.INTER_CUBIC)
    return Patch(box[0], box[1], image, valid)


def swap(swapper: Swapper, target_image: np.ndarray, face: Face, embedding: np.ndarray,
         output_size: int | None = None, target_embedding: np.ndarray | None = None, weight: float = 1.0) -> Patch:
    """The target face rendered with the source identity (``embedding``, blended with ``target_embedding``
    by ``weight``: 1 = the source's alone) at ``output_size`` pixels, as a Patch in the target frame."""
    identity = identity_input(swapper, blended_embedding(embedding, target_embedding, weight))
    aligned, matrix = crop(swapper, target_image, face.kps, output_side(swapper, output_size))
    return paste(render(swapper, aligned, identity), matrix, target_image, face)
