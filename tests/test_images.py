"""pipelines.images: every accepted format and conversion, every rejection, metadata-free encoding.

All inputs are generated here with Pillow (and OpenCV for 16-bit RGB, which Pillow cannot write).
"""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import encoded

from playalter.pipelines.core import config
from playalter.pipelines.core.errors import ImageValidationError
from playalter.pipelines.images import encode_jpeg, encode_png, load_image, sniff_format


def gradient(width: int = 96, height: int = 80) -> np.ndarray:
    """uint8 [H,W,3]: red grows left to right, green top to bottom, blue constant."""
    red = np.tile(np.linspace(0, 255, width, dtype=np.uint8), (height, 1))
    green = np.tile(np.linspace(0, 255, height, dtype=np.uint8)[:, None], (1, width))
    blue = np.full((height, width), 90, np.uint8)
    return np.dstack([red, green, blue])


@pytest.fixture(autouse=True)
def default_settings(monkeypatch):
    for name in list(__import__("os").environ):
        if name.startswith("PLAYALTER__"):
            monkeypatch.delenv(name)
    config.reset_settings()
    yield
    config.reset_settings()


# --- accepted formats -------------------------------------------------------------------------

@pytest.mark.parametrize("fmt, lossless", [("PNG", True), ("BMP", True), ("TIFF", True),
                                            ("WEBP", True), ("JPEG", False)])
def test_each_supported_format_decodes_to_rgb(fmt, lossless):
    pixels = gradient()
    options = {"lossless": True} if fmt == "WEBP" else {}  # lossy WebP is covered by JPEG's tolerance
    result = load_image(encoded(Image.fromarray(pixels), fmt, **options))
    assert result.dtype == np.uint8 and result.shape == (80, 96, 3)
    if lossless:
        np.testing.assert_array_equal(result, pixels)
    else:
        assert np.abs(result.astype(int) - pixels).mean() < 3


def test_reads_from_a_path(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(gradient()).save(path)
    np.testing.assert_array_equal(load_image(path), gradient())
    np.testing.assert_array_equal(load_image(str(path)), gradient())


def test_camera_mpo_uses_its_primary_picture():
    primary = Image.new("RGB", (80, 64), (200, 30, 30))
    preview = Image.new("RGB", (80, 64), (30, 30, 200))
    data = encoded(primary, "MPO", save_all=True, append_images=[preview])
    assert Image.open(io.BytesIO(data)).n_frames == 2
    result = load_image(data)
    assert result.shape == (64, 80, 3)
    assert result[..., 0].mean() > 150 and result[..., 2].mean() < 80


# --- conversions ------------------------------------------------------------------------------

def test_exif_orientation_is_applied():
    pixels = np.zeros((64, 96, 3), np.uint8)
    pixels[:, :48] = (255, 0, 0)  # left half red
    pixels[:, 48:] = (0, 0, 255)  # right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display needs 90 degrees clockwise
    result = load_image(encoded(Image.fromarray(pixels), "JPEG", exif=exif, quality=95))
    assert result.shape == (96, 64, 3)
    top, bottom = result[:40].reshape(-1, 3).mean(0), result[-40:].reshape(-1, 3).mean(0)
    assert top[0] > 200 and top[2] < 50  # the left (red) half is now on top
    assert bottom[2] > 200 and bottom[0] < 50


def test_grayscale_and_one_bit_become_equal_channels():
    gray = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (64, 1))  # [64,64]
    result = load_image(encoded(Image.fromarray(gray, "L"), "PNG"))
    np.testing.assert_array_equal(result, np.dstack([gray] * 3))
    bits = Image.fromarray(gray >= 128).convert("1")
    result = load_image(encoded(bits, "PNG"))
    np.testing.assert_array_equal(result[..., 0], np.where(gray >= 128, 255, 0))
    assert (result[..., 0] == result[..., 2]).all()


def test_alpha_is_composited_on_white():
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[:, :32] = (255, 0, 0, 255)  # opaque red
    rgba[:, 32:48] = (0, 0, 0, 0)  # fully transparent black
    rgba[:, 48:] = (0, 0, 0, 128)  # half-transparent black
    result = load_image(encoded(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert tuple(result[10, 10]) == (255, 0, 0)
    assert tuple(result[10, 40]) == (255, 255, 255)
    assert all(abs(int(value) - 127) <= 1 for value in result[10, 56])


def test_gray_with_alpha_and_palette_with_transparency():
    la = Image.fromarray(np.dstack([np.full((64, 64), 40, np.uint8), np.zeros((64, 64), np.uint8)]), "LA")
    assert (load_image(encoded(la, "PNG")) == 255).all()
    palette = Image.new("P", (64, 64), 1)
    palette.putpalette([0, 255, 0] + [255, 0, 0] + [0, 0, 0] * 254)
    palette.paste(0, (0, 0, 32, 64))
    result = load_image(encoded(palette, "PNG", transparency=1))
    assert tuple(result[5, 5]) == (0, 255, 0)
    assert tuple(result[5, 50]) == (255, 255, 255)  # palette entry 1 is transparent
    opaque = load_image(encoded(palette, "PNG"))
    assert tuple(opaque[5, 50]) == (255, 0, 0)


def test_sixteen_bit_grayscale_is_scaled_not_clipped():
    samples = np.full((64, 64), 32896, np.uint16)  # 32896 / 257 = 128
    samples[:, :8] = 65535
    samples[:, 8:16] = 0
    for fmt in ("PNG", "TIFF"):
        result = load_image(encoded(Image.fromarray(samples), fmt))
        assert tuple(result[0, 0]) == (255, 255, 255)
        assert tuple(result[0, 10]) == (0, 0, 0)
        assert tuple(result[0, 40]) == (128, 128, 128), fmt


def test_sixteen_bit_rgb():
    rgb16 = np.zeros((64, 64, 3), np.uint16)
    rgb16[..., 0] = 65535
    rgb16[..., 1] = 32896
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb16, cv2.COLOR_RGB2BGR))
    assert ok
    result = load_image(data.tobytes())
    assert tuple(result[0, 0]) == (255, 128, 0)


def test_cmyk_jpeg_becomes_rgb():
    cmyk = Image.new("CMYK", (64, 64), (255, 0, 0, 0))  # pure cyan ink
    cmyk.paste((0, 0, 0, 255), (32, 0, 64, 64))  # pure black ink
    result = load_image(encoded(cmyk, "JPEG", quality=100))
    assert np.abs(result[10, 10].astype(int) - (0, 255, 255)).max() <= 3
    assert result[10, 50].max() <= 3


# --- rejections -------------------------------------------------------------------------------

def test_size_limits_are_inclusive():
    assert load_image(encoded(Image.new("RGB", (64, 4096)), "PNG")).shape == (4096, 64, 3)
    with pytest.raises(ImageValidationError, match=r"63x64 pixels; the smallest accepted is 64x64"):
        load_image(encoded(Image.new("RGB", (63, 64)), "PNG"))
    with pytest.raises(ImageValidationError, match=r"64x4097 pixels; the largest accepted is 4096x4096"):
        load_image(encoded(Image.new("RGB", (64, 4097)), "PNG"))


def test_encoded_size_limit_from_argument_and_from_settings(monkeypatch, tmp_path):
    noise = np.random.default_rng(0).integers(0, 256, (400, 400, 3), dtype=np.uint8)
    data = encoded(Image.fromarray(noise), "PNG")  # ~480 kB, incompressible
    with pytest.raises(ImageValidationError, match=r"the limit is 0\.1 MB"):
        load_image(data, max_bytes=100_000)
    monkeypatch.setenv("PLAYALTER__SECURITY__MAX_FILE_SIZE_MB", "0.25")
    config.reset_settings()
    with pytest.raises(ImageValidationError, match="security.max_file_size_mb"):
        load_image(data)
    path = tmp_path / "big.png"
    path.write_bytes(data)
    with pytest.raises(ImageValidationError, match="big.png is 0.5 MB"):
        load_image(path)
    assert load_image(data, max_bytes=len(data)).shape == (400, 400, 3)


def test_empty_and_missing_inputs(tmp_path):
    with pytest.raises(ImageValidationError, match=r"empty \(0 bytes\)"):
        load_image(b"")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ImageValidationError, match="empty.jpg is empty"):
        load_image(empty)
    with pytest.raises(ImageValidationError, match="not found"):
        load_image(tmp_path / "absent.png")


@pytest.mark.parametrize("payload, expected", [
    (b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", "looks like a PDF document"),
    (b"<!DOCTYPE html><html><body>hi</body></html>", "looks like an HTML page"),
    (b'{"image": "not really"}', "looks like JSON text"),
    (b"PK\x03\x04" + bytes(100), "looks like a ZIP archive"),
    (b"just some words, not a picture at all", "is not an image"),
    (bytes(range(256)) * 4, "is not an image"),
])
def test_non_image_payloads_are_named(payload, expected):
    with pytest.raises(ImageValidationError, match=expected):
        load_image(payload)


def test_wrong_magic_bytes():
    data = bytearray(encoded(Image.fromarray(gradient()), "PNG"))
    data[1:4] = b"XYZ"
    with pytest.raises(ImageValidationError, match="is not an image; send a JPEG, PNG"):
        load_image(bytes(data))


def test_unsupported_formats():
    still_gif = encoded(Image.new("RGB", (64, 64), (9, 9, 9)), "GIF")
    with pytest.raises(ImageValidationError, match="looks like a GIF image"):
        load_image(still_gif)
    ico = encoded(Image.new("RGB", (64, 64)), "ICO")
    with pytest.raises(ImageValidationError, match="looks like an ICO icon"):
        load_image(ico)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
def test_truncated_files_are_rejected(fmt):
    noise = np.random.default_rng(1).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    data = encoded(Image.fromarray(noise), fmt)
    with pytest.raises(ImageValidationError, match="truncated|damaged"):
        load_image(data[: len(data) // 2])


def _png_declaring(width: int, height: int) -> bytes:
    """A valid 64x64 PNG whose IHDR chunk claims another size (pixel data stays tiny)."""
    data = bytearray(encoded(Image.new("RGB", (64, 64)), "PNG"))
    ihdr = bytearray(data[16:29])  # after signature (8) + length (4) + b"IHDR" (4): 13 bytes
    ihdr[0:8] = struct.pack(">II", width, height)
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)))
    return bytes(data)


def test_declared_size_is_checked_before_decoding():
    # The pixel data is for 64x64: decoding would fail as "truncated"; the size message proves
    # the declared dimensions were rejected before any decoding.
    with pytest.raises(ImageValidationError, match="5000x5000 pixels; the largest accepted"):
        load_image(_png_declaring(5000, 5000))


def test_decompression_bomb_is_rejected_without_decoding():
    with pytest.raises(ImageValidationError, match="decompression bomb"):
        load_image(_png_declaring(60000, 60000))


def _frames(count: int) -> list[Image.Image]:
    return [Image.new("RGB", (64, 64), (40 * index, 0, 0)) for index in range(count)]


@pytest.mark.parametrize("fmt, options, expected", [
    ("WEBP", {"lossless": True}, "animated WEBP with 3 frames"),
    ("PNG", {}, "animated PNG with 3 frames"),
    ("TIFF", {}, "multi-page TIFF with 3 frames"),
])
def test_animated_and_multi_page_files_are_rejected(fmt, options, expected):
    first, *rest = _frames(3)
    data = encoded(first, fmt, save_all=True, append_images=rest, **options)
    with pytest.raises(ImageValidationError, match=expected):
        load_image(data)


def test_animated_gif_is_rejected():
    first, *rest = _frames(3)
    with pytest.raises(ImageValidationError, match="GIF"):
        load_image(encoded(first, "GIF", save_all=True, append_images=rest))


def test_sniff_format():
    assert sniff_format(encoded(Image.new("RGB", (8, 8)), "WEBP")) == "WEBP"
    assert sniff_format(b"RIFF\x00\x00\x00\x00WAVEfmt ") is None


# --- encoding ---------------------------------------------------------------------------------

def _metadata_keys(image: Image.Image) -> set[str]:
    return {key for key in image.info if key in ("exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "gps")}


def test_encode_png_round_trips_pixels_without_metadata():
    pixels = gradient()
    data = encode_png(pixels)
    decoded = Image.open(io.BytesIO(data))
    assert decoded.format == "PNG" and not decoded.getexif() and not _metadata_keys(decoded)
    assert b"eXIf" not in data and b"iTXt" not in data and b"tEXt" not in data
    np.testing.assert_array_equal(np.asarray(decoded), pixels)
    tagged = Image.open(io.BytesIO(encode_png(pixels, text={"playalter": "preview"})))
    assert tagged.info["playalter"] == "preview"


def test_encode_jpeg_writes_no_exif_gps_xmp():
    # Start from a photo that carries EXIF with GPS; decoding then encoding must drop it.
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0)}  # GPS IFD
    source = encoded(Image.fromarray(gradient()), "JPEG", exif=exif)
    assert Image.open(io.BytesIO(source)).getexif()
    data = encode_jpeg(load_image(source))
    decoded = Image.open(io.BytesIO(data))
    assert not decoded.getexif() and not _metadata_keys(decoded)
    assert b"Exif\x00\x00" not in data and b"http://ns.adobe.com/xap" not in data and b"CameraMaker" not in data


def test_encoders_reject_non_rgb_arrays():
    with pytest.raises(ValueError, match="uint8"):
        encode_png(np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        encode_jpeg(np.zeros((8, 8, 3), np.float32))
