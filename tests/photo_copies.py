"""Perturbed copies of a photo whose geometry is known: the landmark noise of measurements without ground truth.

One copy is a random similarity warp (shift of a few px, rescale, rotation in plane, optionally mirrored),
then optionally JPEG re-encoding and pixel noise. The warp's zoom is known, so the copy's true image scale
is the original's divided by it, and a face of the original is found again in the copy by where its centre
went. Used by bench/measurement_error.py and tests/test_measurement_error.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from playalter.pipelines.engine.face import Face

SHIFT_PX = 4.0
ZOOM = (0.8, 1.25)
ROTATION_DEG = 10.0
JPEG_QUALITY = (60, 95)
NOISE_SD = (0.0, 4.0)
MIRRORED = {"palpebral_fissure_right": "palpebral_fissure_left", "palpebral_fissure_left": "palpebral_fissure_right"}


@dataclass(frozen=True)
class Copy:
    image: np.ndarray  # uint8 [H',W',3] RGB
    matrix: np.ndarray  # [2,3] original px -> copy px
    zoom: float  # copy px per original px
    mirrored: bool  # left and right swapped: the subject's right eye is on the other side

    def name(self, measurement: str) -> str:
        """The copy's name for an original measurement (a mirror swaps the left and right fissures)."""
        return MIRRORED.get(measurement, measurement) if self.mirrored else measurement

    def same_face(self, original: Face, faces: list[Face]) -> Face | None:
        """The face of ``faces`` (detected in the copy) nearest to where ``original``'s centre went."""
        centre = np.append(np.asarray(original.bbox[:4], np.float64).reshape(2, 2).mean(axis=0), 1.0)  # [3]
        moved = self.matrix @ centre  # [2]
        width = float(original.bbox[2] - original.bbox[0]) * self.zoom
        best = min(faces, key=lambda face: np.linalg.norm(np.reshape(face.bbox[:4], (2, 2)).mean(axis=0) - moved),
                   default=None)
        if best is None or np.linalg.norm(np.reshape(best.bbox[:4], (2, 2)).mean(axis=0) - moved) > 0.3 * width:
            return None
        return best


def perturbed_copy(image: np.ndarray, rng: np.random.Generator) -> Copy:
    """A random copy of ``image`` (uint8 [H,W,3] RGB); see the module doc for the ranges."""
    height, width = image.shape[:2]
    zoom = float(np.exp(rng.uniform(*np.log(ZOOM))))
    degrees = float(rng.uniform(-ROTATION_DEG, ROTATION_DEG))
    mirrored = bool(rng.random() < 0.5)
    size = (int(round(width * zoom)), int(round(height * zoom)))
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, zoom)  # [2,3]
    matrix[:, 2] += np.array(size) / 2 - np.array([width, height]) / 2 + rng.uniform(-SHIFT_PX, SHIFT_PX, 2)
    if mirrored:
        matrix = np.array([[-1.0, 0, size[0] - 1], [0, 1, 0]]) @ np.vstack([matrix, [0, 0, 1]])
    copy = cv2.warpAffine(image, matrix, size, flags=cv2.INTER_CUBIC if zoom > 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)
    if rng.random() < 0.5:
        quality = int(rng.integers(*JPEG_QUALITY))
        _, encoded = cv2.imencode(".jpg", copy[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        copy = cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1]
    noise = rng.uniform(*NOISE_SD)
    copy = np.clip(copy + rng.normal(0, noise, copy.shape), 0, 255).astype(np.uint8)
    return Copy(np.ascontiguousarray(copy), matrix, zoom, mirrored)
