"""Restore faces of an image: align each to its model's template, run the model, paste the result back.

The result is pasted only inside the face's outline (the hull of its MediaPipe mesh when the face has
one, else of its dense landmarks, else the contour fitted to its five points: ``swap.landmarks.outline``),
cut to where the warped crop has data and feathered inward from that edge; ``strength`` then blends
restored and unrestored (0: the image unchanged, 1: fully restored). Every pixel outside the returned mask
is the input's own, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ...core.errors import InvalidParameterError
from ...core.quoting import quoted
from ...engine import align
from ...engine.face import Face, check_faces_of
from ..blend import feather_alpha, mix, outline_mask, region
from . import network as networks
from .contracts import restorer, template


@dataclass(frozen=True)
class RestoreOptions:
    """model: one of ``RESTORE_MODELS``; strength, fidelity (CodeFormer's ``w``) and feather (a fraction
    of the face size, as the swap's) are 0..1."""

    model: str = "gfpgan_1.4"
    strength: float = 1.0
    fidelity: float = 0.5
    feather: float = 0.06

    def __post_init__(self) -> None:
        restorer(self.model)  # a clear error for an unknown name
        for name in ("strength", "fidelity", "feather"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise InvalidParameterError(f"restore {name} must be a number from 0 to 1, got {quoted(value)}")


def aligned_crop(image: np.ndarray, face: Face, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The face aligned to the FFHQ template, [size,size,3], and the 2x3 matrix image -> crop. Pixels beyond
    the image edge repeat the edge (a black border would read as part of the face)."""
    return align.crop_to(image, face.kps, template(size), size, cv2.BORDER_REPLICATE)


def warp_back(restored: np.ndarray, matrix: np.ndarray, box: tuple[int, int, int, int]
              ) -> tuple[np.ndarray, np.ndarray]:
    """The restored crop [S,S,3] in image pixels over ``box`` (x0, y0, x1, y1): (pixels [h,w,3], where the
    crop has data [h,w] bool). A crop larger than the face is first shrunk by area averaging, so its
    detail is not aliased by the sparse samples of a bilinear warp."""
    size = restored.shape[0]
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))  # crop pixels per image pixel
    if scale > 1.0:
        side = max(int(round(size / scale)), 1)
        restored = cv2.resize(restored, (side, side), interpolation=cv2.INTER_AREA)
        matrix = matrix * (side / size)
    pixels, valid = align.warp_back(restored, matrix, box)
    valid = cv2.erode(valid.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    return pixels, valid


def restore_face(network: networks.Network, image: np.ndarray, face: Face, options: RestoreOptions,
                 within: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(image [H,W,3] uint8 with ``face`` restored, mask [H,W] bool of the pixels that may differ). With
    ``within`` [H,W] bool (a swap's blend mask) only pixels inside it too are restored."""
    mask = np.zeros(image.shape[:2], bool)
    box = region(face, image.shape)
    x0, y0, x1, y1 = box
    if options.strength == 0 or x1 <= x0 or y1 <= y0:
        return image, mask
    crop, matrix = aligned_crop(image, face, network.restorer.size)
    pixels, valid = warp_back(networks.run(network, crop, options.fidelity), matrix, box)
    inside = outline_mask(face, x0, y0, valid.shape) & valid  # [h,w]
    if within is not None:
        inside &= within[y0:y1, x0:x1]
    alpha = options.strength * feather_alpha(inside, options.feather * face.size)
    output = image.copy()
    output[y0:y1, x0:x1] = mix(pixels, image[y0:y1, x0:x1], inside, alpha)
    mask[y0:y1, x0:x1] = inside
    return output, mask


def restore_faces(image: np.ndarray, faces: list[Face], options: RestoreOptions,
                  network: networks.Network | None = None) -> tuple[np.ndarray, dict]:
    """Every face of ``faces`` restored in ``image`` [H,W,3] uint8, one after the other; (image, report)."""
    network = network or networks.load(options.model)
    entries = []
    for face in faces:
        image, mask = restore_face(network, image, face, options)
        entries.append({"box": [round(float(value), 1) for value in face.bbox], "changed_pixels": int(mask.sum())})
    return image, {"model": options.model, "strength": options.strength, "faces": entries}


def restore_batch(images: list[np.ndarray], faces: list[list[Face]], options: RestoreOptions,
                  on_image=None) -> tuple[list[np.ndarray], list[dict]]:
    """``restore_faces`` on every image of a batch with its own faces (one list per image)."""
    check_faces_of(images, faces)
    network = networks.load(options.model)
    outputs, reports = [], []
    for number, (image, image_faces) in enumerate(zip(images, faces)):
        output, report = restore_faces(image, image_faces, options, network)
        outputs.append(output)
        reports.append(report)
        if on_image is not None:
            on_image(number)
    return outputs, reports
