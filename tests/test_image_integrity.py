"""Damaged images are refused by the one validator (pipelines.images.load_image), never padded with made-up pixels.

Real photos (insightface's t1.jpg, skimage's astronaut) are re-encoded, then their headers are patched to
claim a larger size or their data is cut short. Issue 12 item 7: a 200x200 JPEG patched to claim 4000x4000
decoded into a mostly grey picture and was accepted.
"""

from __future__ import annotations

import struct
import zlib

import pytest
from PIL import Image, ImageFile

from conftest import encoded

from playalter.pipelines.core.errors import ImageValidationError
from playalter.pipelines.images import load_image


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    skimage_data = pytest.importorskip("skimage.data")
    return Image.fromarray(skimage_data.astronaut()).resize((200, 200))


def patch_jpeg_size(data: bytes, width: int, height: int) -> bytes:
    position = min(i for i in (data.find(b"\xff\xc0"), data.find(b"\xff\xc2")) if i >= 0)
    patched = bytearray(data)
    patched[position + 5:position + 9] = struct.pack(">HH", height, width)
    return bytes(patched)


def patch_png_size(data: bytes, width: int, height: int) -> bytes:
    position = data.find(b"IHDR")
    patched = bytearray(data)
    patched[position + 4:position + 12] = struct.pack(">II", width, height)
    patched[position + 17:position + 21] = struct.pack(">I", zlib.crc32(bytes(patched[position:position + 17])))
    return bytes(patched)


JPEG_VARIANTS = [{"quality": 90}, {"quality": 90, "progressive": True}, {"quality": 75, "optimize": True},
                 {"quality": 95, "subsampling": 0}]


@pytest.mark.parametrize("options", JPEG_VARIANTS)
@pytest.mark.parametrize("size", [(4000, 4000), (200, 400), (200, 232), (600, 200)])
def test_jpeg_with_a_patched_size_is_refused(astronaut, options, size):
    data = patch_jpeg_size(encoded(astronaut, "JPEG", **options), *size)
    with pytest.raises(ImageValidationError, match="damaged or truncated"):
        load_image(data)


def test_the_reported_case_is_refused_before_decoding(astronaut):
    """A 13 KB 200x200 JPEG claiming 4000x4000: too small for its declared size, refused without decoding."""
    data = patch_jpeg_size(encoded(astronaut, "JPEG", quality=80), 4000, 4000)
    with pytest.raises(ImageValidationError, match="cannot hold the 4000x4000 pixels"):
        load_image(data)


def test_real_photo_jpeg_patched_and_truncated(t1_path):
    data = t1_path.read_bytes()
    width, height = Image.open(t1_path).size
    assert load_image(data).shape == (height, width, 3)
    with pytest.raises(ImageValidationError):
        load_image(patch_jpeg_size(data, width, height + 64))
    body = data[:len(data) * 3 // 4]
    for cut in (body, body + b"\xff\xd9"):  # cut mid-scan, with and without an end marker
        with pytest.raises(ImageValidationError):
            load_image(cut)


@pytest.mark.parametrize("mode", ["RGB", "P", "L"])
def test_png_with_a_patched_size_and_fixed_checksum_is_refused(astronaut, mode):
    data = encoded(astronaut.convert(mode), "PNG")
    assert load_image(data).shape == (200, 200, 3)
    with pytest.raises(ImageValidationError, match="pixel stream does not match"):
        load_image(patch_png_size(data, 200, 260))


def test_png_with_a_broken_chunk_checksum_is_refused(astronaut):
    data = bytearray(encoded(astronaut, "PNG"))
    position = data.find(b"IDAT")
    data[position + 40] ^= 0x55
    with pytest.raises(ImageValidationError, match="damaged"):
        load_image(bytes(data))


@pytest.mark.parametrize("fmt,options", [("JPEG", {"quality": 90}), ("JPEG", {"progressive": True}),
                                         ("PNG", {}), ("WEBP", {"quality": 80}), ("WEBP", {"lossless": True}),
                                         ("TIFF", {}), ("TIFF", {"compression": "tiff_deflate"}),
                                         ("TIFF", {"compression": "tiff_lzw"}), ("BMP", {})])
@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.9, 0.99])
def test_truncated_real_photos_are_refused(astronaut, fmt, options, fraction):
    data = encoded(astronaut, fmt, **options)
    assert load_image(data).shape == (200, 200, 3)
    with pytest.raises(ImageValidationError):
        load_image(data[:int(len(data) * fraction)])


@pytest.mark.parametrize("fmt,options", [("JPEG", {"quality": 92}), ("JPEG", {"progressive": True, "quality": 60}),
                                         ("JPEG", {"subsampling": 0}), ("PNG", {}), ("WEBP", {}), ("TIFF", {})])
def test_intact_real_photos_are_still_accepted(astronaut, fmt, options):
    for image in (astronaut, astronaut.resize((640, 427)), astronaut.convert("L"), astronaut.convert("CMYK")):
        if image.mode == "CMYK" and fmt in ("PNG", "WEBP"):
            continue
        decoded = load_image(encoded(image, fmt, **options))
        assert decoded.shape == (image.size[1], image.size[0], 3)


def test_jpeg_with_restart_markers_and_a_trailer_is_accepted(astronaut):
    data = encoded(astronaut, "JPEG", quality=90, restart_marker_blocks=4)
    assert load_image(data + b"camera trailer bytes").shape == (200, 200, 3)


def test_truncation_is_refused_even_when_the_host_allows_truncated_images(astronaut, monkeypatch):
    """ComfyUI may set Pillow's global LOAD_TRUNCATED_IMAGES; the validator decodes strictly anyway."""
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    data = encoded(astronaut, "PNG")
    with pytest.raises(ImageValidationError):
        load_image(data[:len(data) // 2])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True


def test_the_cli_refuses_a_patched_jpeg_and_writes_nothing(astronaut, tmp_path, capsys):
    from playalter.runner.cli.main import main

    photo = tmp_path / "patched.jpg"
    photo.write_bytes(patch_jpeg_size(encoded(astronaut, "JPEG", quality=80), 4000, 4000))
    assert main(["anonymize", str(photo), "--out", str(tmp_path / "out")]) == 2
    assert "damaged or truncated" in capsys.readouterr().err
    assert not list((tmp_path / "out").glob("*.png"))


def test_the_http_service_refuses_a_patched_jpeg(astronaut, tmp_path):
    import asyncio

    from server_app_helpers import b64, bearer, make_settings, running_app

    data = patch_jpeg_size(encoded(astronaut, "JPEG", quality=80), 4000, 4000)

    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, _, key):
            response = await client.post("/api/privacy/mask", headers=bearer(key), json={"image_base64": b64(data)})
            return response.status, await response.json()

    status, body = asyncio.run(scenario())
    assert status == 422 and body["error"]["code"] == "invalid_image"  # the documented status of a bad image
    assert "damaged or truncated" in body["error"]["message"]
