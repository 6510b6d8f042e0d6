"""Five-point face alignment (the ArcFace / InSwapper crop convention).

The reference template is ArcFace's five points in a 112 x 112 crop. For a
crop size that is a multiple of 112 the template is scaled; otherwise (e.g.
InSwapper's 128) it is scaled by size/128 and shifted right by 8 * size/128,
which is how those models were trained.
"""

from __future__ import annotations

import cv2
import numpy as np

ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float32,
)  # [5,2] in a 112x112 crop


def template(size: int) -> np.ndarray:
    """[5,2] target points for a ``size`` x ``size`` crop."""
    if size % 112 == 0:
        ratio, shift = size / 112.0, 0.0
    else:
        ratio, shift = size / 128.0, 8.0 * size / 128.0
    points = ARCFACE_TEMPLATE * ratio
    points[:, 0] += shift
    return points


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares similarity (Umeyama) mapping source [N,2] onto target [N,2]; returns a 2x3 matrix."""
    source = np.asarray(source, np.float64)
    target = np.asarray(target, np.float64)
    source_mean, target_mean = source.mean(0), target.mean(0)
    source_centered, target_centered = source - source_mean, target - target_mean
    covariance = target_centered.T @ source_centered / len(source)  # [2,2]
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1
    rotation = u @ np.diag(sign) @ vt  # [2,2]
    variance = (source_centered**2).sum() / len(source)
    scale = (singular * sign).sum() / variance
    translation = target_mean - scale * rotation @ source_mean
    return np.hstack([scale * rotation, translation[:, None]]).astype(np.float32)  # [2,3]


def alignment_matrix(kps: np.ndarray, size: int) -> np.ndarray:
    """2x3 matrix taking image pixels to the aligned ``size`` crop, from five keypoints [5,2]."""
    return similarity_transform(kps, template(size))


def crop(image: np.ndarray, kps: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Aligned crop [size,size,3] and the 2x3 matrix used."""
    return crop_to(image, kps, template(size), size)


def crop_to(image: np.ndarray, kps: np.ndarray, points: np.ndarray, size: int,
            border: int = cv2.BORDER_CONSTANT) -> tuple[np.ndarray, np.ndarray]:
    """Crop [size,size,C] with the keypoints [5,2] moved onto ``points`` [5,2] (any model's template), and the
    2x3 matrix used; beyond the image edge black (``BORDER_CONSTANT``) or the edge repeated."""
    matrix = similarity_transform(kps, points)
    return cv2.warpAffine(image, matrix, (size, size), borderMode=border, borderValue=0.0), matrix


def warp_back(crop: np.ndarray, matrix: np.ndarray, box: tuple[int, int, int, int],
              interpolation: int = cv2.INTER_LINEAR) -> tuple[np.ndarray, np.ndarray]:
    """An aligned crop [s,s,C] back in image pixels over ``box`` (x0, y0, x1, y1), where ``matrix`` [2,3]
    took image pixels to the crop: (pixels [h,w,C], where the crop has data [h,w] bool). Edges repeat."""
    x0, y0, x1, y1 = box
    inverse = cv2.invertAffineTransform(matrix)  # [2,3] crop -> image
    inverse[:, 2] -= (x0, y0)  # crop -> box
    shape = (x1 - x0, y1 - y0)
    pixels = cv2.warpAffine(crop, inverse, shape, flags=interpolation, borderMode=cv2.BORDER_REPLICATE)
    side = crop.shape[0]
    valid = cv2.warpAffine(np.full((side, side), 255, np.uint8), inverse, shape, flags=cv2.INTER_NEAREST) > 0
    return pixels, valid
