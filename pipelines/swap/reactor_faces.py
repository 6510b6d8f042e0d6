"""ReActor's face models: ``.safetensors`` files in ``ComfyUI/models/reactor/faces/``, read and written.

ReActor (Gourieff/comfyui-reactor-node, ``reactor_utils.save_face_model``) saves an insightface ``Face``
with ``safetensors.torch.save_file``: nine tensors, each as insightface made it::

    bbox float32 (4,)   kps float32 (5, 2)   det_score float32 ()   landmark_3d_68 float32 (68, 3)
    pose float32 (3,)   landmark_2d_106 float32 (106, 2)   embedding float32 (512,)
    gender int64 ()     age int64 ()

``embedding`` is buffalo_l's ArcFace (w600k_r50) vector, not normalised; ReActor's swap normalises it,
so it is our ``arcface_w600k_r50`` space. Only ``embedding`` is an identity; the rest describes the one
photo the model was made from and is not read. The file is read with the ``safetensors`` package (a
JSON header and raw little-endian arrays; nothing in it is executed), after a size check, so a hostile
or broken file is a clear error, never a crash or a huge allocation.

A file written here carries the nine tensors with those dtypes, because ReActor's swap sorts the faces of
a loaded model by ``bbox`` area and fails without one. An identity averaged over several photos has no
single photo's geometry, so ``bbox``, ``kps``, the landmarks, ``pose`` and ``det_score`` are zeros, and
``gender`` and ``age`` are -1 (unknown); ReActor uses none of them when swapping from a face model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import models
from ..core.errors import InvalidParameterError
from ..core.quoting import quoted

FOLDER = "reactor"  # the model folder kind: ComfyUI/models/reactor/, extra_model_paths.yaml, <models>/reactor/
SUBFOLDER = "faces"
SUFFIX = ".safetensors"
MAX_BYTES = 1 << 20  # a ReActor face model is about 4 KB; anything near this is not one
EMBEDDING_SIZE = 512
# name -> (shape, numpy dtype) of every tensor ReActor writes; ``embedding`` is the one read back.
TENSORS = {
    "bbox": ((4,), np.float32),
    "kps": ((5, 2), np.float32),
    "det_score": ((), np.float32),
    "landmark_3d_68": ((68, 3), np.float32),
    "pose": ((3,), np.float32),
    "landmark_2d_106": ((106, 2), np.float32),
    "embedding": ((EMBEDDING_SIZE,), np.float32),
    "gender": ((), np.int64),
    "age": ((), np.int64),
}
UNKNOWN = -1  # gender and age of a file written from an identity


def faces_dirs() -> list[Path]:
    """Every folder searched for ReActor face models, in order (ComfyUI's first when running inside it)."""
    return [folder / SUBFOLDER for folder in models.search_dirs(FOLDER)]


def names() -> list[str]:
    """File names of the ReActor face models found (the first folder holding a name wins)."""
    found: set[str] = set()
    for folder in faces_dirs():
        if folder.is_dir():
            found.update(path.name for path in folder.iterdir() if path.suffix.lower() == SUFFIX and path.is_file())
    return sorted(found)


def path_of(file_name: str) -> Path:
    """Where ``file_name`` (a plain name ending in .safetensors) is, or where it would be written: the
    first folder holding it, else the first folder searched."""
    folders = faces_dirs()
    for folder in folders:
        if (folder / file_name).is_file():
            return folder / file_name
    return folders[0] / file_name


def read_embedding(path: Path) -> np.ndarray:
    """(512,) float32 ``embedding`` of a ReActor face model, as stored (not normalised)."""
    from safetensors import SafetensorError, safe_open

    size = path.stat().st_size
    if size > MAX_BYTES:
        raise InvalidParameterError(
            f"{path.name} is {size} bytes: not a ReActor face model (those are a few KB, at most {MAX_BYTES})")
    try:
        with safe_open(str(path), framework="numpy") as handle:
            keys = list(handle.keys())
            embedding = handle.get_tensor("embedding") if "embedding" in keys else None
    except (SafetensorError, OSError, TypeError, ValueError):
        raise InvalidParameterError(f"{path.name} is not a readable .safetensors file: its header or its tensor "
                                    "data is damaged") from None
    if embedding is None:
        shown = ", ".join(quoted(key) for key in keys[:10]) or "none"
        raise InvalidParameterError(
            f"{path.name} is not a ReActor face model: it has no 'embedding' tensor (tensors: {shown})")
    if embedding.dtype.kind != "f" or embedding.size != EMBEDDING_SIZE or embedding.ndim > 2:
        raise InvalidParameterError(
            f"{path.name}: 'embedding' must hold {EMBEDDING_SIZE} floats (ArcFace), got {embedding.dtype} "
            f"{tuple(embedding.shape)}")
    return embedding.astype(np.float32).reshape(EMBEDDING_SIZE)  # (512,)


def write(path: Path, embedding: np.ndarray) -> Path:
    """Write a ReActor face model holding ``embedding`` (512,) and placeholders for the rest (see above)."""
    from safetensors.numpy import save_file

    vector = np.asarray(embedding, np.float32).reshape(-1)  # (512,)
    if vector.size != EMBEDDING_SIZE:
        raise InvalidParameterError(
            f"a ReActor face model holds an ArcFace embedding of {EMBEDDING_SIZE} values, got {vector.size}")
    tensors = {name: np.zeros(shape, dtype) for name, (shape, dtype) in TENSORS.items()}
    tensors["embedding"] = vector
    tensors["gender"] = np.array(UNKNOWN, np.int64)
    tensors["age"] = np.array(UNKNOWN, np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path))
    return path
