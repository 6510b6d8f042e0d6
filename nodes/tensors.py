"""Conversions between ComfyUI tensors and the engine's numpy arrays.

IMAGE: torch float32 [B, H, W, 3] in 0..1.  MASK: [B, H, W] (or [H, W]) float 0..1.
Engine images: numpy uint8 [H, W, 3] RGB.  Engine masks: float32 [H, W] 0..1.
"""

from __future__ import annotations

import numpy as np


def image_batch_to_numpy(images) -> list[np.ndarray]:
    """IMAGE [B,H,W,C] -> list of B uint8 [H,W,3] RGB arrays."""
    array = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[-1] not in (1, 3, 4):
        raise ValueError(f"IMAGE must be [B,H,W,3]; got shape {tuple(array.shape)}")
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
