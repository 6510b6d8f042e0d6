"""Putting a swapped face into the target image.

Input: a face rendered in the target's pixel frame (``Patch``: an image region
plus where the rendering has data), the original target and the target Face.
Steps, all inside the face's region of interest so that cost follows face size
rather than image size:

1. mask: the face outline polygon (landmarks, see ``landmarks.outline``), cut to
   where the rendering has data;
2. occluders (optional): the mouth interior (dense landmarks only) and what
   the occlusion test below finds are removed from the mask: in the target, so
   hands, hair or a microphone in front of the target face stay visible, and in
   the rendering, so a strand of the source's hair is not pasted in;
3. colour correction of the rendered face towards the target face: LAB mean /
   standard-deviation transfer, or per-channel histogram matching;
4. enhancement of the rendered face only: unsharp-mask sharpening and
   edge-preserving (bilateral) noise reduction, each with a 0..1 strength;
5. compositing: feathered alpha (the feather runs inward, so alpha is 0 outside
   the mask) or Poisson blending (``cv2.seamlessClone``).

Every pixel outside the returned mask is bit-identical to the target.

Occlusion test (simple by design): a robust skin model (median and spread of
L, a, b in CIELAB) is taken from the cheek/nose area between the eyes and the
mouth. Mask pixels far from it in chroma (> 4.5 robust sigmas) or in lightness
(> 4 sigmas and > 30 L units) are candidates. Candidates are cleaned
(morphological opening), the eyes, brows and mouth (whose colours
legitimately differ from skin) are left out, and a connected region is kept
only when it touches the mask border: occluders come in from outside the face
(hair, hands, objects), while a mole or a shadow in the middle of a cheek does
not. Known limits: skin-coloured occluders (a hand of the same tone) are not
found, an occluder over the eyes or the mouth is found only outside those
zones (the dense mouth-interior cut still applies there), and an occluder
covering most of the cheeks and nose spoils the skin model itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..core.errors import InvalidParameterError
from ..engine.face import Face
from . import landmarks
from .choices import BLEND_MODES, COLOR_MODES


@dataclass(frozen=True)
class BlendOptions:
    """How a swapped face is blended. Strengths and sizes are 0..1 (sizes relative to the face size)."""

    color: str = "lab"
    mode: str = "feather"
    feather: float = 0.06
    occlusion: bool = True
    mouth: bool = True
    sharpen: float = 0.3
    denoise: float = 0.0

    def __post_init__(self) -> None:
        if self.color not in COLOR_MODES:
            raise InvalidParameterError(f"colour correction '{self.color}' is unknown; choose {', '.join(COLOR_MODES)}")
        if self.mode not in BLEND_MODES:
            raise InvalidParameterError(f"blend mode '{self.mode}' is unknown; choose {', '.join(BLEND_MODES)}")
        for name in ("feather", "sharpen", "denoise"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InvalidParameterError(f"{name} must be between 0 and 1, got {value}")


@dataclass
class Patch:
    """A face rendered into the target frame, cropped to a region.

    x0, y0:  top-left of the region in target pixels
    image:   [h,w,3] uint8 RGB rendering
    valid:   [h,w] bool, where the rendering has data
    """

    x0: int
    y0: int
    image: np.ndarray
    valid: np.ndarray

    @property
    def slices(self) -> tuple[slice, slice]:
        height, width = self.valid.shape
        return slice(self.y0, self.y0 + height), slice(self.x0, self.x0 + width)


@dataclass
class BlendResult:
    image: np.ndarray  # [H,W,3] uint8, the target with the face blended in
    mask: np.ndarray  # [H,W] bool, the pixels that may differ from the target
    occluded_fraction: float  # share of the face outline kept from the target (occluders + mouth)


def region(face: Face, shape: tuple[int, ...], margin: float = 0.25) -> tuple[int, int, int, int]:
    """x0, y0, x1, y1: the face outline's bounding box grown by ``margin`` x face size, clipped to the image."""
    points = landmarks.outline(face)  # [N,2]
    pad = margin * max(face.size, 1.0)
    height, width = shape[:2]
    x0 = int(np.clip(np.floor(points[:, 0].min() - pad), 0, width))
    y0 = int(np.clip(np.floor(points[:, 1].min() - pad), 0, height))
    x1 = int(np.clip(np.ceil(points[:, 0].max() + pad), 0, width))
    y1 = int(np.clip(np.ceil(points[:, 1].max() + pad), 0, height))
    return x0, y0, x1, y1


def _polygon_mask(points: np.ndarray, x0: int, y0: int, shape: tuple[int, int]) -> np.ndarray:
    """[h,w] bool, polygon (image pixels) filled in a region whose top-left is (x0, y0)."""
    mask = np.zeros(shape, np.uint8)
    shifted = np.round((points - (x0, y0)) * 4).astype(np.int32)  # 2 fractional bits
    cv2.fillPoly(mask, [shifted], 1, lineType=cv2.LINE_8, shift=2)
    return mask.astype(bool)


def outline_mask(face: Face, x0: int, y0: int, shape: tuple[int, int]) -> np.ndarray:
    return _polygon_mask(landmarks.outline(face), x0, y0, shape)


def skin_sample_mask(face: Face, x0: int, y0: int, shape: tuple[int, int]) -> np.ndarray:
    """Cheeks and nose: the eye-mouth quadrilateral shrunk towards its centre."""
    quad = face.kps[[0, 1, 4, 3]]  # [4,2] left eye, right eye, right mouth, left mouth
    center = quad.mean(axis=0)
    return _polygon_mask(center + 0.6 * (quad - center), x0, y0, shape)


def protected_mask(face: Face, x0: int, y0: int, shape: tuple[int, int]) -> np.ndarray:
    """Eyes, brows and mouth: ellipses whose colours legitimately differ from skin."""
    mask = np.zeros(shape, np.uint8)
    unit = face.eye_distance
    up = np.array([face.kps[1, 1] - face.kps[0, 1], face.kps[0, 0] - face.kps[1, 0]]) / max(unit, 1e-6)  # [2]
    angle = float(np.degrees(np.arctan2(face.kps[1, 1] - face.kps[0, 1], face.kps[1, 0] - face.kps[0, 0])))
    origin = np.array([x0, y0], np.float32)
    for eye in face.kps[:2]:
        center = eye - origin
        cv2.ellipse(mask, _point(center), _axes(0.42 * unit, 0.25 * unit), angle, 0, 360, 1, -1)
        brow = center + up * 0.38 * unit
        cv2.ellipse(mask, _point(brow), _axes(0.5 * unit, 0.2 * unit), angle, 0, 360, 1, -1)
    mouth = face.kps[3:5].mean(axis=0) - origin
    mouth_width = float(np.linalg.norm(face.kps[4] - face.kps[3]))
    cv2.ellipse(mask, _point(mouth), _axes(0.65 * mouth_width, 0.35 * mouth_width), angle, 0, 360, 1, -1)
    return mask.astype(bool)


def _point(xy: np.ndarray) -> tuple[int, int]:
    return int(round(float(xy[0]))), int(round(float(xy[1])))


def _axes(a: float, b: float) -> tuple[int, int]:
    return max(int(round(a)), 1), max(int(round(b)), 1)


def occluder_mask(target: np.ndarray, face: Face, face_mask: np.ndarray, x0: int, y0: int) -> np.ndarray:
    """[h,w] bool: pixels of the target region ``target`` [h,w,3] that hide the face (see module doc)."""
    shape = face_mask.shape
    lab = cv2.cvtColor(target.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)  # [h,w,3] L 0..100, a/b ~ -128..127
    sample = skin_sample_mask(face, x0, y0, shape) & face_mask
    if sample.sum() < 20:
        return np.zeros(shape, bool)
    skin = lab[sample]  # [S,3]
    median = np.median(skin, axis=0)  # [3]
    spread = 1.4826 * np.median(np.abs(skin - median), axis=0)  # robust sigma [3]
    spread = np.maximum(spread, (5.0, 3.5, 3.5))
    chroma = np.hypot((lab[..., 1] - median[1]) / spread[1], (lab[..., 2] - median[2]) / spread[2])  # [h,w]
    lightness = np.abs(lab[..., 0] - median[0])
    candidate = (chroma > 4.5) | ((lightness > 4.0 * spread[0]) & (lightness > 30.0))
    candidate &= face_mask & ~protected_mask(face, x0, y0, shape)
    kernel_size = max(3, int(0.03 * face.size) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kernel_size, kernel_size))
    candidate = cv2.morphologyEx(candidate.astype(np.uint8), cv2.MORPH_OPEN, kernel)
    border = face_mask & ~cv2.erode(face_mask.astype(np.uint8), kernel).astype(bool)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(candidate, connectivity=8)
    touching = np.unique(labels[border & (labels > 0)])
    kept = touching[stats[touching, cv2.CC_STAT_AREA] >= 0.005 * face_mask.sum()]
    occluders = np.isin(labels, kept)
    if occluders.any():
        occluders = cv2.dilate(occluders.astype(np.uint8), kernel).astype(bool)
    return occluders


def _lab(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)  # [h,w,3]


def _rgb(lab: np.ndarray) -> np.ndarray:
    rgb = cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2RGB)
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def transfer_lab(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Recolour ``source`` [h,w,3] so its LAB mean/std under ``mask`` match ``target``'s."""
    source_lab, target_lab = _lab(source), _lab(target)
    mask_u8 = mask.astype(np.uint8)
    source_mean, source_std = (values.ravel() for values in cv2.meanStdDev(source_lab, mask=mask_u8))  # (3,) each
    target_mean, target_std = (values.ravel() for values in cv2.meanStdDev(target_lab, mask=mask_u8))
    gain = np.clip((target_std + 1e-3) / (source_std + 1e-3), 0.4, 2.5)  # keep a flat region from exploding
    return _rgb((source_lab - source_mean.astype(np.float32)) * gain.astype(np.float32)
                + target_mean.astype(np.float32))


def match_histograms(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per RGB channel, map ``source``'s histogram under ``mask`` onto ``target``'s."""
    result = np.empty_like(source)
    levels = np.arange(256)
    for channel in range(3):
        source_cdf = np.cumsum(np.bincount(source[..., channel][mask], minlength=256)).astype(np.float64)
        target_cdf = np.cumsum(np.bincount(target[..., channel][mask], minlength=256)).astype(np.float64)
        source_cdf /= source_cdf[-1]
        target_cdf /= target_cdf[-1]
        lookup = np.interp(source_cdf, target_cdf, levels)  # [256]
        result[..., channel] = np.rint(lookup).astype(np.uint8)[source[..., channel]]
    return result


def color_correct(source: np.ndarray, target: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    if mode == "none" or mask.sum() < 16:
        return source
    if mode == "lab":
        return transfer_lab(source, target, mask)
    return match_histograms(source, target, mask)


def enhance(image: np.ndarray, sharpen: float, denoise: float, face_size: float) -> np.ndarray:
    """Noise reduction (bilateral, blended by strength) then unsharp-mask sharpening, on [h,w,3] uint8."""
    result = image.astype(np.float32)
    if denoise > 0:
        smooth = cv2.bilateralFilter(image, d=5, sigmaColor=10 + 50 * denoise, sigmaSpace=3)
        result = (1 - denoise) * result + denoise * smooth.astype(np.float32)
    if sharpen > 0:
        sigma = max(0.8, face_size / 200.0)  # a 128-px rendering upscaled to a big face needs a wider kernel
        blurred = cv2.GaussianBlur(result, (0, 0), sigma)
        result = result + 1.5 * sharpen * (result - blurred)
    return np.clip(np.rint(result), 0, 255).astype(np.uint8)


def feather_alpha(mask: np.ndarray, radius: float) -> np.ndarray:
    """float32 [h,w] alpha of a bool ``mask`` [h,w]: 1 deep inside, fading over ``radius`` pixels to 0 at
    its edge; 0 outside (the feather runs inward only)."""
    alpha = mask.astype(np.float32)  # [h,w]
    if radius >= 1:
        size = int(2 * round(radius) + 1)
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
        inner = cv2.erode(mask.astype(np.uint8), kernel).astype(np.float32)
        alpha = cv2.GaussianBlur(inner, (0, 0), radius / 2) * alpha
    return alpha


def mix(source: np.ndarray, target: np.ndarray, mask: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``target`` [h,w,3] uint8 moved towards ``source`` by ``alpha`` [h,w] inside ``mask`` [h,w] bool;
    outside the mask the target's own pixels, bit for bit."""
    mixed = target.astype(np.float32) + alpha[..., None] * (source.astype(np.float32) - target.astype(np.float32))
    return np.where(mask[..., None], np.clip(np.rint(mixed), 0, 255).astype(np.uint8), target)


def _feather(source: np.ndarray, target: np.ndarray, mask: np.ndarray, radius: float) -> np.ndarray:
    return mix(source, target, mask, feather_alpha(mask, radius))


def _odd_extent(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Trim ``mask`` (in place) until its bounding box has odd width and height; returns x0, y0, x1, y1."""
    for _ in range(4):
        ys, xs = np.nonzero(mask)
        if ys.size < 16:
            return None
        left, right, top, bottom = xs.min(), xs.max(), ys.min(), ys.max()
        if (right - left) % 2 == 0 and (bottom - top) % 2 == 0:
            return int(left), int(top), int(right), int(bottom)
        if (right - left) % 2:
            mask[:, right] = False
        if (bottom - top) % 2:
            mask[bottom] = False
    return None


def _poisson(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    inner = mask.copy()
    inner[:2], inner[-2:], inner[:, :2], inner[:, -2:] = False, False, False, False  # seamlessClone needs a frame
    extent = _odd_extent(inner)
    if extent is None:
        return target.copy()
    left, top, right, bottom = extent
    # seamlessClone crops ``source`` to the mask's bounding box and centres it at ``center``; OpenCV
    # versions round that centre differently for even sizes, so the box is made odd-sized: then the
    # centre pixel is unambiguous and the clone lands exactly where it came from.
    center = ((left + right) // 2, (top + bottom) // 2)
    cloned = cv2.seamlessClone(source, target, inner.astype(np.uint8) * 255, center, cv2.NORMAL_CLONE)
    return np.where(inner[..., None], cloned, target)


def blend(target_image: np.ndarray, patch: Patch, face: Face, options: BlendOptions) -> BlendResult:
    """Blend ``patch`` (the swapped face, target frame) into ``target_image`` [H,W,3] over ``face``."""
    rows, cols = patch.slices
    target = target_image[rows, cols]  # [h,w,3] view
    shape = patch.valid.shape
    outline = outline_mask(face, patch.x0, patch.y0, shape)
    valid = cv2.erode(patch.valid.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    mask = outline & valid
    kept = np.zeros(shape, bool)
    if options.mouth:
        mouth = landmarks.mouth_interior(face)
        if mouth is not None:
            kept |= _polygon_mask(mouth, patch.x0, patch.y0, shape)
    if options.occlusion:  # occluders of the target stay; those of the rendering (source hair) go
        kept |= occluder_mask(target, face, mask, patch.x0, patch.y0)
        kept |= occluder_mask(patch.image, face, mask, patch.x0, patch.y0)
    mask &= ~kept
    rendered = color_correct(patch.image, target, mask, options.color)
    rendered = enhance(rendered, options.sharpen, options.denoise, face.size)
    if options.mode == "poisson":
        merged = _poisson(rendered, target, mask)
    else:
        merged = _feather(rendered, target, mask, options.feather * face.size)
    output = target_image.copy()
    output[rows, cols] = merged
    full_mask = np.zeros(target_image.shape[:2], bool)
    full_mask[rows, cols] = mask
    occluded = float((kept & outline).sum()) / max(float(outline.sum()), 1.0)
    return BlendResult(output, full_mask, occluded)
