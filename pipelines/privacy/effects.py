"""The pixel effects (blur, pixelate, noise, solid) and the exact uint8 composite.

Each effect maps a region of the image (uint8 [h,w,3] RGB, a face's mask
region) to a replacement of the same shape, from size-relative parameters
(``strength.parameters``). ``composite`` blends the replacement in through the
face's soft mask with integer arithmetic: where the mask is 0 the output byte
IS the input byte.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class EffectJob:
    """What an effect needs to know about the face it hides."""

    face_width: float  # pixels
    grid_origin: tuple[float, float]  # (x, y) of the face box's top-left corner, region pixels
    params: dict[str, float]  # from strength.parameters
    rng: np.random.Generator  # seeded per face
    color: tuple[int, int, int]  # RGB, solid fill


def gaussian_blur(region: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of uint8 [h,w,3] with a large sigma, computed on a reduced copy.

    A blur of sigma s keeps no detail finer than about s, so the region is reduced
    by k = s / 4 (area average), blurred with the remaining sigma, and enlarged
    back (bilinear): the same low-pass result for a fraction of the work.
    """
    height, width = region.shape[:2]
    factor = max(1.0, sigma / 4.0)
    if factor <= 1.5:
        return cv2.GaussianBlur(region, (0, 0), sigmaX=max(sigma, 0.1), borderType=cv2.BORDER_REFLECT)
    small_size = (max(1, round(width / factor)), max(1, round(height / factor)))
    small = cv2.resize(region, small_size, interpolation=cv2.INTER_AREA)
    box_sigma = 1.0 / math.sqrt(12.0)  # the area average already acts as a box of one reduced pixel
    residual = math.sqrt(max((sigma / factor) ** 2 - box_sigma**2, 0.25))
    small = cv2.GaussianBlur(small, (0, 0), sigmaX=residual, borderType=cv2.BORDER_REFLECT)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def blur(region: np.ndarray, job: EffectJob) -> np.ndarray:
    return gaussian_blur(region, job.params["sigma_fraction"] * job.face_width)


def _block_means(region: np.ndarray, block: int, origin: tuple[float, float]) -> np.ndarray:
    """Replace each block x block cell of a grid through ``origin`` by its mean colour (exact, partial cells too)."""
    height, width = region.shape[:2]
    left = (block - int(round(origin[0])) % block) % block
    top = (block - int(round(origin[1])) % block) % block
    rows = -(-(height + top) // block)
    cols = -(-(width + left) // block)
    padded = np.zeros((rows * block, cols * block, 3), np.float32)  # [R*b, C*b, 3]
    padded[top:top + height, left:left + width] = region
    counts = np.zeros((rows * block, cols * block), np.float32)  # [R*b, C*b]
    counts[top:top + height, left:left + width] = 1.0
    sums = padded.reshape(rows, block, cols, block, 3).sum(axis=(1, 3))  # [R,C,3]
    numbers = counts.reshape(rows, block, cols, block).sum(axis=(1, 3))  # [R,C]
    means = np.rint(sums / np.maximum(numbers, 1.0)[..., None]).astype(np.uint8)  # [R,C,3]
    tiled = np.repeat(np.repeat(means, block, axis=0), block, axis=1)  # [R*b, C*b, 3]
    return tiled[top:top + height, left:left + width]


def pixelate(region: np.ndarray, job: EffectJob) -> np.ndarray:
    block = max(1, int(round(job.face_width / job.params["blocks"])))
    return _block_means(region, block, job.grid_origin)


def noise(region: np.ndarray, job: EffectJob) -> np.ndarray:
    """Seeded coarse colour noise over a blurred face; at mix 1 the face is replaced by noise."""
    height, width = region.shape[:2]
    cell = max(1.0, job.face_width / job.params["cells"])
    grid = job.rng.integers(0, 256, size=(max(1, math.ceil(height / cell)), max(1, math.ceil(width / cell)), 3),
                            dtype=np.uint8)  # [rows, cols, 3]
    pattern = cv2.resize(grid, (width, height), interpolation=cv2.INTER_NEAREST)  # [h,w,3]
    base = gaussian_blur(region, job.params["sigma_fraction"] * job.face_width)
    return cv2.addWeighted(base, 1.0 - job.params["mix"], pattern, job.params["mix"], 0.0)


def solid(region: np.ndarray, job: EffectJob) -> np.ndarray:
    fill = np.empty_like(region)
    fill[:] = job.color
    return cv2.addWeighted(region, 1.0 - job.params["opacity"], fill, job.params["opacity"], 0.0)


EFFECTS = {"blur": blur, "pixelate": pixelate, "noise": noise, "solid": solid}


def composite(target: np.ndarray, replacement: np.ndarray, alpha: np.ndarray) -> None:
    """Blend ``replacement`` into ``target`` (both uint8 [h,w,3], in place) through alpha [h,w] 0..1.

    Integer blend: out = (in * (255 - a) + new * a + 127) // 255 with a = round(255 alpha),
    so a = 0 gives the input byte exactly and a = 255 the replacement byte exactly.
    """
    weight = np.rint(alpha * 255.0).astype(np.uint16)[..., None]  # [h,w,1]
    blended = (target.astype(np.uint16) * (255 - weight) + replacement.astype(np.uint16) * weight + 127) // 255
    target[...] = blended.astype(np.uint8)
