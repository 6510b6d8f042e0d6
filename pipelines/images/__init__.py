"""Image input validation and decoding, shared by every entry point (nodes, CLI, HTTP).

``load_image`` is the only way an encoded image enters the engine. It accepts
JPEG, PNG, BMP, TIFF and WebP and always returns uint8 [H,W,3] RGB:

- the encoded size is checked first (``security.max_file_size_mb``), then the
  first bytes (so a PDF or an HTML page is named as such), then the declared
  width and height (``security.min_image_side`` .. ``security.max_image_side``)
  BEFORE any pixel is decoded, which stops decompression bombs;
- animated GIF/WebP/APNG and multi-page TIFF are rejected: a run works on one
  picture, and silently taking the first frame would hide the user's mistake.
  The one exception is a camera MPO (a JPEG that carries extra preview or
  depth pictures): its primary picture is used;
- truncated or inconsistent data is refused, never padded with made-up
  pixels: Pillow's LOAD_TRUNCATED_IMAGES is forced off while decoding (ComfyUI
  may switch it on), a JPEG too small for its declared size is refused before
  decoding, and after decoding a JPEG's scan and a PNG's pixel stream must
  cover the whole declared picture (``image_integrity``);
- EXIF orientation is applied;
- grayscale, 1-bit and palette images become RGB; 16-bit images are scaled
  to 8 bits (not clipped); CMYK is converted to RGB;
- transparency is composited on WHITE, so transparent areas look as they do in
  a browser on a white page and never hide a face on a black background.

``encode_png`` / ``encode_jpeg`` write pixels only: no EXIF, GPS, XMP or ICC
data ever leaves the engine in an image it encodes.
"""

from __future__ import annotations

import io
import os
import struct
import threading
import warnings
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Mapping

import numpy as np
from PIL import Image, ImageFile, ImageOps, PngImagePlugin, UnidentifiedImageError

from ..core.errors import ImageValidationError
from .integrity import check_complete, check_plausible_size

SUPPORTED_FORMATS = ("JPEG", "PNG", "BMP", "TIFF", "WEBP")
_OPEN_FORMATS = list(SUPPORTED_FORMATS)  # Pillow opens a camera MPO through its JPEG plugin ("MPO" is no key)

# (leading bytes, offset, what it is); checked in order. Only used to name what was sent.
_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "JPEG"),
    (b"\x89PNG\r\n\x1a\n", 0, "PNG"),
    (b"BM", 0, "BMP"),
    (b"II*\x00", 0, "TIFF"),
    (b"MM\x00*", 0, "TIFF"),
    (b"WEBP", 8, "WEBP"),
    (b"GIF8", 0, "a GIF image"),
    (b"%PDF", 0, "a PDF document"),
    (b"PK\x03\x04", 0, "a ZIP archive"),
    (b"\x1f\x8b", 0, "a gzip archive"),
    (b"ftypheic", 4, "a HEIC image"),
    (b"ftypavif", 4, "an AVIF image"),
    (b"\x00\x00\x01\x00", 0, "an ICO icon"),
    (b"<svg", 0, "an SVG drawing"),
)

_WHITE = (255, 255, 255)
_STRICT_LOCK = threading.Lock()


def _limits(max_bytes: int | None) -> tuple[int, int, int]:
    from ..core.config import settings

    security = settings().security
    if max_bytes is None:
        max_bytes = int(security.max_file_size_mb * 1024 * 1024)
    return max_bytes, security.min_image_side, security.max_image_side


def _read(source: bytes | bytearray | memoryview | str | os.PathLike, max_bytes: int) -> tuple[bytes, str]:
    """The encoded bytes and a short name of where they came from (for messages)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, name = bytes(source), "the uploaded image"
    else:
        path = Path(source)
        name = str(path)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise ImageValidationError(f"image file not found: {path}") from None
        if not path.is_file():
            raise ImageValidationError(f"{path} is not a file")
        if size > max_bytes:
            raise ImageValidationError(_too_large(name, size, max_bytes))
        data = path.read_bytes()
    if not data:
        raise ImageValidationError(f"{name} is empty (0 bytes)")
    if len(data) > max_bytes:
        raise ImageValidationError(_too_large(name, len(data), max_bytes))
    return data, name


def _too_large(name: str, size: int, max_bytes: int) -> str:
    return (
        f"{name} is {size / 1048576:.1f} MB; the limit is {max_bytes / 1048576:.1f} MB "
        "(setting security.max_file_size_mb)"
    )


def sniff_format(data: bytes) -> str | None:
    """What the leading bytes say the payload is ("JPEG", "a PDF document", ...), or None."""
    head = data[:32]
    for signature, offset, kind in _SIGNATURES:
        if head[offset:offset + len(signature)] == signature:
            if kind == "WEBP" and not head.startswith(b"RIFF"):
                continue
            return kind
    stripped = head.lstrip().lower()
    if stripped.startswith((b"<!doctype html", b"<html")):
        return "an HTML page"
    if stripped.startswith((b"{", b"[")):
        return "JSON text"
    return None


def _open(data: bytes, name: str, min_side: int, max_side: int) -> Image.Image:
    kind = sniff_format(data)
    if kind not in SUPPORTED_FORMATS:
        what = f"looks like {kind}" if kind else "is not an image"
        raise ImageValidationError(
            f"{name} {what}; send a JPEG, PNG, BMP, TIFF or WebP image"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=_OPEN_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageValidationError(
            f"{name} declares an enormous size (a decompression bomb?); "
            f"the limit is {max_side}x{max_side} pixels"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ImageValidationError(
            f"{name} starts like a {kind} file but cannot be read: it is damaged or truncated"
        ) from None
    width, height = image.size
    if width > max_side or height > max_side:
        raise ImageValidationError(
            f"{name} is {width}x{height} pixels; the largest accepted is {max_side}x{max_side} "
            "(setting security.max_image_side): downscale it first"
        )
    if width < min_side or height < min_side:
        raise ImageValidationError(
            f"{name} is {width}x{height} pixels; the smallest accepted is {min_side}x{min_side} "
            "(setting security.min_image_side)"
        )
    frames = getattr(image, "n_frames", 1)
    if frames > 1 and image.format != "MPO":
        what = "multi-page" if image.format == "TIFF" else "animated"
        raise ImageValidationError(
            f"{name} is an {what} {image.format} with {frames} frames; send a single still image"
        )
    return image


@contextmanager
def _strict_decoding():
    """Pillow's global LOAD_TRUNCATED_IMAGES off while we decode (a host such as ComfyUI may switch it on)."""
    with _STRICT_LOCK:
        previous, ImageFile.LOAD_TRUNCATED_IMAGES = ImageFile.LOAD_TRUNCATED_IMAGES, False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = previous


def _decode(image: Image.Image, data: bytes, name: str) -> Image.Image:
    try:
        with warnings.catch_warnings(), _strict_decoding():
            warnings.simplefilter("ignore")  # e.g. a malformed EXIF block; the pixels still decode
            check_plausible_size(image, data, name)
            image.load()
            check_complete(image, data, name)
            return ImageOps.exif_transpose(image)
    except ImageValidationError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error):
        # Pillow's own text ("image file is truncated (0 bytes not processed)") is not for the user
        raise ImageValidationError(
            f"{name} cannot be decoded: it is truncated or damaged; send the original file"
        ) from None


def _to_rgb(image: Image.Image, name: str) -> np.ndarray:
    """uint8 [H,W,3] RGB from any mode Pillow decodes our formats into."""
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        gray = np.asarray(image).astype(np.float64)  # [H,W], 16-bit samples
        gray8 = np.clip(np.rint(gray / 257.0), 0, 255).astype(np.uint8)
        return np.repeat(gray8[:, :, None], 3, axis=2)
    if mode == "F":
        raise ImageValidationError(f"{name} holds 32-bit floating-point samples; save it as 8 or 16 bit")
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode in ("LA", "La", "PA", "RGBa"):
        image = image.convert("RGBA")
    elif mode == "RGB" and "transparency" in image.info:
        image = image.convert("RGBA")
    elif mode == "L" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        background = Image.new("RGBA", image.size, (*_WHITE, 255))
        image = Image.alpha_composite(background, image)
    if image.mode != "RGB":
        image = image.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV, RGBA (composited), RGBX
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


def load_image(source: bytes | bytearray | memoryview | str | os.PathLike, *,
               max_bytes: int | None = None) -> np.ndarray:
    """Validate and decode an encoded image (bytes or a file path) into uint8 [H,W,3] RGB.

    Raises ImageValidationError, whose message tells the user what is wrong.
    """
    max_bytes, min_side, max_side = _limits(max_bytes)
    data, name = _read(source, max_bytes)
    image = _open(data, name, min_side, max_side)
    return _to_rgb(_decode(image, data, name), name)


def _as_pil(image: np.ndarray) -> Image.Image:
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected uint8 [H,W,3] RGB, got {array.dtype} {tuple(array.shape)}")
    return Image.fromarray(np.ascontiguousarray(array), mode="RGB")


def encode_png(image: np.ndarray, *, text: Mapping[str, str] | None = None, compress_level: int = 4) -> bytes:
    """uint8 [H,W,3] RGB -> PNG bytes. No EXIF/GPS/XMP/ICC; tEXt chunks only those given in ``text``."""
    info = None
    if text:
        info = PngImagePlugin.PngInfo()
        for key, value in text.items():
            info.add_text(key, value)
    buffer = io.BytesIO()
    _as_pil(image).save(buffer, format="PNG", pnginfo=info, compress_level=compress_level)
    return buffer.getvalue()


def encode_jpeg(image: np.ndarray, *, quality: int = 92) -> bytes:
    """uint8 [H,W,3] RGB -> baseline JPEG bytes with no EXIF/GPS/XMP/ICC segment."""
    buffer = io.BytesIO()
    _as_pil(image).save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()
