"""Pixel boost: a swap model run over the sub-pixel grid of a crop larger than the model's input.

An aligned crop of side ``k * size`` is split into ``k * k`` interleaved sub-images of side ``size``:
sub-image (i, j) holds the crop's pixels ``crop[i::k, j::k]``, so each is the whole face sampled at the
model's resolution, shifted by a fraction of a pixel. The model swaps each one, and the results are put
back on the same grid, giving a ``k * size`` face (facefusion's "pixel boost" does the same).
"""

from __future__ import annotations

import numpy as np

from ..core.errors import InvalidParameterError


def factor(output_size: int, model_size: int) -> int:
    """k: how many model-sized sub-images fit along one side of an ``output_size`` crop."""
    if output_size < model_size or output_size % model_size:
        raise InvalidParameterError(
            f"output size {output_size} is not a multiple of the swap model's {model_size}-px input")
    return output_size // model_size


def split(crop: np.ndarray, k: int) -> list[np.ndarray]:
    """[k*s,k*s,C] crop -> k*k sub-images [s,s,C], row of the grid first: crop[i::k, j::k]."""
    return [np.ascontiguousarray(crop[i::k, j::k]) for i in range(k) for j in range(k)]


def join(tiles: list[np.ndarray], k: int) -> np.ndarray:
    """k*k sub-images [s,s,C] (in ``split`` order) -> the [k*s,k*s,C] crop they interleave into."""
    side, channels = tiles[0].shape[0], tiles[0].shape[2]
    crop = np.empty((k * side, k * side, channels), tiles[0].dtype)
    for number, tile in enumerate(tiles):
        i, j = divmod(number, k)
        crop[i::k, j::k] = tile
    return crop
