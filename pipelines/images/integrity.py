"""Is an encoded image complete and consistent with the size its header declares?

Pillow refuses most damaged files, but two kinds decode "successfully" into
made-up pixels: a JPEG whose scan data ends before the last block (libjpeg
only warns, "premature end of data segment", and paints the rest flat grey),
e.g. a 200x200 photo whose header was patched to claim 4000x4000, and a PNG
whose pixel stream is shorter than its header's width x height. These checks
refuse both; ``images.load_image`` runs them for every entry point.

- ``check_plausible_size`` (before any pixel is decoded): a Huffman-coded JPEG
  spends at least one bit per 8x8 block of each colour plane, so a file smaller
  than that cannot hold the declared picture.
- ``check_complete`` (after decoding): a JPEG is re-decoded (DC only, 1/8
  scale, cheap) with filler bytes inserted after the data of every scan. A
  complete scan never reads them (libjpeg skips bytes before a marker), so
  the result is unchanged; a short scan consumes them and the picture changes
  (the first scan of a progressive JPEG carries the DC values, so it shows),
  and a progressive JPEG must bring every coefficient to full precision (a
  file cut between two scans still decodes, blurred). A PNG's chunks must all carry their
  checksums, and its pixel stream must inflate to exactly the declared size.
"""

from __future__ import annotations

import io
import math
import struct
import zlib

import numpy as np
from PIL import Image

from ..core.errors import ImageValidationError

_JPEG_HUFFMAN_FRAMES = {0xC0, 0xC1, 0xC2}  # baseline, extended, progressive (arithmetic coding is not bounded)
_JPEG_FRAMES = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}
_FILLERS = (bytes(64), bytes([0x5A, 0xA5, 0x3C, 0xC3]) * 16, bytes([0xE7, 0x18]) * 32)  # no 0xFF: no marker
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
_INFLATE_STEP = 1 << 20


def _damaged(name: str, what: str) -> ImageValidationError:
    return ImageValidationError(f"{name} is damaged or truncated: {what}; send the original file")


class _JpegLayout:
    """Where the primary picture's frame header and end marker are."""

    def __init__(self, data: bytes, name: str):
        self.frame_marker: int | None = None
        self.components: list[tuple[int, int]] = []  # (horizontal, vertical) sampling per component
        self.scan_ends: list[int] = []  # where each scan's entropy-coded data stops
        self.final_coefficients: dict[int, set[int]] = {}  # component id -> coefficients whose last bit was sent
        self.end = self._walk(data, name)

    def _walk(self, data: bytes, name: str) -> int:
        position = 2
        while True:
            if position + 2 > len(data) or data[position] != 0xFF:
                raise _damaged(name, "the JPEG data ends before its end marker")
            while position + 1 < len(data) and data[position + 1] == 0xFF:
                position += 1  # fill bytes before a marker
            marker = data[position + 1]
            if marker == 0xD9:
                return position
            if marker in _JPEG_STANDALONE:
                position += 2
                continue
            if position + 4 > len(data):
                raise _damaged(name, "the JPEG data ends inside a header")
            length = struct.unpack(">H", data[position + 2:position + 4])[0]
            segment = data[position + 4:position + 2 + length]
            if length < 2 or len(segment) != length - 2:
                raise _damaged(name, "the JPEG data ends inside a header")
            if marker in _JPEG_FRAMES and self.frame_marker is None and len(segment) >= 6:
                self.frame_marker = marker
                count = segment[5]
                self.components = [(byte >> 4, byte & 15) for byte in segment[7:6 + 3 * count:3]]
                self.final_coefficients = {component: set() for component in segment[6:6 + 3 * count:3]}
            position += 2 + length
            if marker == 0xDA:
                self._note_scan(segment)
                position = self._skip_scan(data, position)
                self.scan_ends.append(position)

    def _note_scan(self, header: bytes) -> None:
        count = header[0] if header else 0
        if len(header) < 4 + 2 * count:
            return
        first, last, approximation = header[1 + 2 * count:4 + 2 * count]
        if approximation & 15:
            return  # not the last bit of these coefficients yet
        for component in header[1:1 + 2 * count:2]:
            self.final_coefficients.setdefault(component, set()).update(range(first, min(last, 63) + 1))

    def missing_scans(self) -> bool:
        """A progressive picture whose scans stop before every coefficient of every component is complete."""
        if self.frame_marker not in (0xC2, 0xC6, 0xCA, 0xCE):
            return False
        return any(len(done) < 64 for done in self.final_coefficients.values())

    @staticmethod
    def _skip_scan(data: bytes, position: int) -> int:
        """The position of the first marker after entropy-coded data (stuffed 0xFF00 and RSTn are data)."""
        while True:
            position = data.find(b"\xff", position)
            if position < 0 or position + 1 >= len(data):
                return len(data)
            following = data[position + 1]
            if following == 0x00 or 0xD0 <= following <= 0xD7:
                position += 2
            elif following == 0xFF:
                position += 1
            else:
                return position


def check_plausible_size(image: Image.Image, data: bytes, name: str) -> None:
    """Refuse a JPEG too small to hold the width x height its header declares (before decoding)."""
    if image.format not in ("JPEG", "MPO"):
        return
    layout = _JpegLayout(data, name)
    if layout.frame_marker not in _JPEG_HUFFMAN_FRAMES or not layout.components:
        return
    width, height = image.size
    h_max = max(h for h, _ in layout.components) or 1
    v_max = max(v for _, v in layout.components) or 1
    blocks = sum(math.ceil(width * h / (8 * h_max)) * math.ceil(height * v / (8 * v_max))
                 for h, v in layout.components)
    if layout.end * 8 < blocks:
        raise _damaged(name, f"{len(data)} bytes cannot hold the {width}x{height} pixels its header declares")


def check_complete(image: Image.Image, data: bytes, name: str) -> None:
    """Refuse a decoded JPEG or PNG whose pixel data ran out before the picture was complete."""
    if image.format in ("JPEG", "MPO"):
        _check_jpeg_scan(data, name)
    elif image.format == "PNG":
        _check_png_stream(data, name)


def _dc_preview(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data), formats=["JPEG"]) as picture:
        picture.draft(picture.mode, (max(1, picture.size[0] // 8), max(1, picture.size[1] // 8)))
        picture.load()
        return np.asarray(picture).copy()


def _with_filler(data: bytes, positions: list[int], filler: bytes) -> bytes:
    pieces, start = [], 0
    for position in positions:
        pieces += [data[start:position], filler]
        start = position
    return b"".join([*pieces, data[start:]])


def _check_jpeg_scan(data: bytes, name: str) -> None:
    layout = _JpegLayout(data, name)
    if layout.missing_scans():
        raise _damaged(name, "the progressive JPEG stops before its last scan")
    reference = _dc_preview(data)
    for filler in _FILLERS:
        try:
            padded = _dc_preview(_with_filler(data, layout.scan_ends, filler))
        except (OSError, SyntaxError, ValueError):
            padded = None
        if padded is None or not np.array_equal(padded, reference):
            raise _damaged(name, "the JPEG scan data ends before the last pixel its header declares")


def _png_chunks(data: bytes, name: str):
    position = len(_PNG_SIGNATURE)
    while True:
        if position + 12 > len(data):
            raise _damaged(name, "the PNG data ends before its IEND chunk")
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        crc_bytes = data[position + 8 + length:position + 12 + length]
        if len(body) != length or len(crc_bytes) != 4:
            raise _damaged(name, "the PNG data ends inside a chunk")
        if zlib.crc32(kind + body) != struct.unpack(">I", crc_bytes)[0]:
            raise _damaged(name, f"the checksum of a PNG {kind.decode('latin-1')!r} chunk does not match")
        yield kind, body
        if kind == b"IEND":
            return
        position += 12 + length


def _png_stream_size(header: bytes) -> int:
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header[:13])
    bits = _PNG_CHANNELS.get(colour, 1) * depth
    if not interlace:
        return height * (1 + math.ceil(width * bits / 8))
    size = 0
    for x0, y0, dx, dy in _ADAM7:
        pass_width, pass_height = math.ceil(max(0, width - x0) / dx), math.ceil(max(0, height - y0) / dy)
        if pass_width and pass_height:
            size += pass_height * (1 + math.ceil(pass_width * bits / 8))
    return size


def _check_png_stream(data: bytes, name: str) -> None:
    header, compressed = b"", []
    for kind, body in _png_chunks(data, name):
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            compressed.append(body)
    if len(header) < 13:
        raise _damaged(name, "the PNG header chunk is missing")
    expected = _png_stream_size(header)
    inflater, produced = zlib.decompressobj(), 0
    pending = b"".join(compressed)
    try:
        while pending and produced <= expected:
            produced += len(inflater.decompress(pending, _INFLATE_STEP))
            pending = inflater.unconsumed_tail
        if produced <= expected:
            produced += len(inflater.flush())
    except zlib.error:
        raise _damaged(name, "the PNG pixel stream is corrupt") from None
    if produced != expected or not inflater.eof:
        raise _damaged(name, "the PNG pixel stream does not match the width and height its header declares")
