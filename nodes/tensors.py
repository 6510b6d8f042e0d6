"""Conversions between ComfyUI tensors and the engine's numpy arrays.

IMAGE: torch float32 [B, H, W, 3] in 0..1.  MASK: [B, H, W] (or [H, W]) float 0..1.
Engine images: numpy uint8 [H, W, 3] RGB.  Engine masks: float32 [H, W] 0..1.

An IMAGE a node cannot use (wrong layout, no images, integer or non-finite values) is refused here with an
``ImageValidationError`` naming the node input, so no node fails later on with a numpy or OpenCV message.
"""

from __future__ import annotations

import numpy as np


def _image_array(images, name: str) -> np.ndarray:
    """IMAGE [B,H,W,C] (or one [H,W,C]) as a float numpy array [B,H,W,C], C in 1, 3, 4, checked."""
    from ..pipelines.core.errors import ImageValidationError

    if hasattr(images, "detach"):  # a torch tensor; float32 first, as numpy has no bfloat16
        tensor = images.detach().cpu()
        array = (tensor.float() if tensor.is_floating_point() else tensor).numpy()
    else:
        array = np.asarray(images)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[-1] not in (1, 3, 4):
        raise ImageValidationError(f"{name} must be an IMAGE batch [B,H,W,3] (RGB, channels last); got shape "
                                   f"{tuple(array.shape)}: connect an IMAGE output")
    if array.shape[0] == 0:
        raise ImageValidationError(f"{name} is an empty batch (0 images): connect a node that outputs at least "
                                   "one image")
    if array.shape[1] == 0 or array.shape[2] == 0:
        raise ImageValidationError(f"{name} has no pixels (shape {tuple(array.shape)})")
    if not np.issubdtype(array.dtype, np.floating):
        raise ImageValidationError(f"{name} must hold floats from 0 to 1 (a ComfyUI IMAGE); got {array.dtype} "
                                   "values: convert it to a float image first")
    finite = np.isfinite(array).all(axis=(1, 2, 3))  # [B]
    if not finite.all():
        raise ImageValidationError(f"image {int(np.argmin(finite))} of {name} holds NaN or infinite values: the "
                                   f"node that produced {name} failed; check that node's settings")
    return array


def image_batch_size(images, name: str = "image") -> tuple[int, int, int]:
    """(B, H, W) of a checked IMAGE batch, for nodes that only need its size."""
    batch, height, width, _ = _image_array(images, name).shape
    return batch, height, width


def image_batch_to_numpy(images, name: str = "image") -> list[np.ndarray]:
    """IMAGE [B,H,W,C] -> list of B uint8 [H,W,3] RGB arrays; ``name`` is the node input, for error messages."""
    array = _image_array(images, name)
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    rgb = array[..., :3]
    return [np.clip(np.rint(frame * 255.0), 0, 255).astype(np.uint8) for frame in rgb]


def numpy_to_image_batch(frames: list[np.ndarray]):
    """list of uint8 [H,W,3] RGB (same size) -> IMAGE [B,H,W,3] float32."""
    import torch

    if not frames:
        raise ValueError("cannot build an IMAGE batch from zero frames")
    stacked = np.stack([frame.astype(np.float32) / 255.0 for frame in frames])  # [B,H,W,3]
    return torch.from_numpy(stacked)


def mask_batch_to_numpy(masks) -> list[np.ndarray]:
    """MASK [B,H,W] or [H,W] -> list of float32 [H,W]."""
    array = masks.detach().cpu().numpy() if hasattr(masks, "detach") else np.asarray(masks)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3:
        raise ValueError(f"MASK must be [B,H,W] or [H,W]; got shape {tuple(array.shape)}")
    return [frame.astype(np.float32) for frame in array]


def numpy_to_mask_batch(masks: list[np.ndarray]):
    """list of float32 [H,W] -> MASK [B,H,W]."""
    import torch

    if not masks:
        raise ValueError("cannot build a MASK batch from zero masks")
    return torch.from_numpy(np.stack([mask.astype(np.float32) for mask in masks]))
