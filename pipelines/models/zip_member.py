"""Read one member of a remote zip with HTTP Range requests, without downloading the archive.

A zip ends with the end-of-central-directory record (EOCD: 22 bytes plus a comment of at most
65535 bytes), which says where the central directory is; the central directory lists every
member with its compression method, sizes and the offset of its local header; the member's
compressed data follows that local header. So: one suffix range for the tail of the archive, a
second range for the central directory when the tail does not hold it, one for the local header
and one for the data, inflated while it streams in.

``RangesUnusable`` says that this server or archive cannot be read that way (the server answers
200 to a Range request, a zip64 archive, a compression method other than stored or deflate):
the caller then downloads the whole archive. Other failures are ``ModelDownloadError`` (the
transfer) or ``ModelCorruptError`` (the bytes are not a usable zip).
"""

from __future__ import annotations

import re
import struct
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Callable

from ..core.errors import ModelCorruptError, ModelDownloadError

USER_AGENT = "playalter-model-fetch"

# Little-endian zip records (APPNOTE.TXT 4.3.7, 4.3.12, 4.3.16), signatures included.
_EOCD = struct.Struct("<4sHHHHIIH")  # sig, disk, cd disk, entries here, entries, cd size, cd offset, comment length
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")  # sig, made by, needed, flags, method, time, date, crc,
#                                                   compressed, size, name len, extra len, comment len,
#                                                   disk, internal attr, external attr, local header offset
_LOCAL = struct.Struct("<4sHHHHHIIIHH")  # sig, needed, flags, method, time, date, crc, compressed, size,
#                                           name len, extra len
_EOCD_SIG, _CENTRAL_SIG, _LOCAL_SIG = b"PK\x05\x06", b"PK\x01\x02", b"PK\x03\x04"
_TAIL_BYTES = _EOCD.size + 0xFFFF  # the EOCD with the longest possible comment
_STORED, _DEFLATED = 0, 8
_ENCRYPTED_FLAG = 0x1
_CHUNK = 1 << 20

ProgressCallback = Callable[[int, int | None], None]  # (bytes written, total bytes or None)


class RangesUnusable(Exception):
    """The archive cannot be read by ranges here; download it whole instead. The message says why."""


@dataclass(frozen=True)
class MemberInfo:
    name: str
    method: int  # 0 stored, 8 deflate
    flags: int
    compressed_size: int  # bytes in the archive
    size: int  # bytes once inflated
    header_offset: int  # where its local header starts in the archive


def _open_range(url: str, byte_range: str, timeout: float):
    """GET ``url`` with ``Range: bytes=<byte_range>``; the 206 response, else RangesUnusable / ModelDownloadError."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Range": f"bytes={byte_range}"})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (http/https only, checked)
    except urllib.error.HTTPError as error:
        raise ModelDownloadError(f"reading {url} failed: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        raise ModelDownloadError(f"cannot reach {url}: {getattr(error, 'reason', error)}") from None
    if response.status != 206:
        response.close()
        raise RangesUnusable(f"the server answered a Range request with HTTP {response.status}, not 206")
    return response


def _content_range(response) -> tuple[int, int]:
    """(first byte offset, archive size in bytes) from the response's Content-Range header."""
    header = response.headers.get("Content-Range", "")
    match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", header.strip())
    if match is None:
        raise RangesUnusable(f"the server's Content-Range {header!r} gives no archive size")
    return int(match.group(1)), int(match.group(3))


def _read_all(response, url: str, expected: int) -> bytes:
    try:
        data = response.read()
    except OSError as error:
        raise ModelDownloadError(f"reading {url} stopped: {error}") from None
    if len(data) != expected:
        raise ModelDownloadError(f"{url} sent {len(data)} bytes for a range of {expected}")
    return data


def read_range(url: str, start: int, length: int, timeout: float) -> bytes:
    """Bytes [start, start + length) of the remote file."""
    with _open_range(url, f"{start}-{start + length - 1}", timeout) as response:
        first, _ = _content_range(response)
        if first != start:
            raise ModelDownloadError(f"{url} answered a range from byte {start} with one from byte {first}")
        return _read_all(response, url, length)


def read_tail(url: str, length: int, timeout: float) -> tuple[bytes, int]:
    """(the last ``length`` bytes or the whole file if shorter, the file's size in bytes)."""
    with _open_range(url, f"-{length}", timeout) as response:
        first, total = _content_range(response)
        return _read_all(response, url, total - first), total


def find_eocd(tail: bytes) -> tuple[int, int, int]:
    """(central directory offset, its size in bytes, entry count) from the archive's last bytes."""
    position = tail.rfind(_EOCD_SIG)
    while position >= 0:
        if position + _EOCD.size <= len(tail):
            fields = _EOCD.unpack_from(tail, position)
            if position + _EOCD.size + fields[7] == len(tail):  # the comment runs exactly to the end
                entries, cd_size, cd_offset = fields[4], fields[5], fields[6]
                if entries == 0xFFFF or cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF:
                    raise RangesUnusable("a zip64 archive")
                return cd_offset, cd_size, entries
        position = tail.rfind(_EOCD_SIG, 0, position)
    raise ModelCorruptError("no zip end-of-central-directory record: not a zip archive")


def parse_central_directory(directory: bytes, entries: int) -> dict[str, MemberInfo]:
    """Every member of the central directory, by its name inside the archive."""
    members: dict[str, MemberInfo] = {}
    position = 0
    for _ in range(entries):
        if directory[position:position + 4] != _CENTRAL_SIG:
            raise ModelCorruptError(f"damaged zip central directory (entry at byte {position})")
        fields = _CENTRAL.unpack_from(directory, position)
        name_length, extra_length, comment_length = fields[10], fields[11], fields[12]
        name_start = position + _CENTRAL.size
        name = directory[name_start:name_start + name_length].decode("utf-8", "replace")
        members[name] = MemberInfo(name=name, method=fields[4], flags=fields[3], compressed_size=fields[8],
                                   size=fields[9], header_offset=fields[16])
        position = name_start + name_length + extra_length + comment_length
    return members


def list_members(url: str, timeout: float, archive_size: int | None = None) -> dict[str, MemberInfo]:
    """The remote archive's members; ``archive_size`` (bytes), when given, must match the remote file."""
    tail, total = read_tail(url, _TAIL_BYTES, timeout)
    if archive_size is not None and total != archive_size:
        raise ModelCorruptError(f"{url} is {total} bytes, expected {archive_size}: the source serves another archive")
    cd_offset, cd_size, entries = find_eocd(tail)
    tail_start = total - len(tail)
    if cd_offset >= tail_start:
        directory = tail[cd_offset - tail_start:cd_offset - tail_start + cd_size]
    else:
        directory = read_range(url, cd_offset, cd_size, timeout)
    return parse_central_directory(directory, entries)


def _data_offset(url: str, info: MemberInfo, timeout: float) -> int:
    """Where the member's compressed data starts: after its local header, name and (local) extra field."""
    header = read_range(url, info.header_offset, _LOCAL.size, timeout)
    fields = _LOCAL.unpack(header)
    if fields[0] != _LOCAL_SIG:
        raise ModelCorruptError(f"damaged zip: no local header for {info.name} at byte {info.header_offset}")
    return info.header_offset + _LOCAL.size + fields[9] + fields[10]


def copy_member(url: str, member: str, sink: BinaryIO, *, archive_size: int | None = None,
                progress: ProgressCallback | None = None, timeout: float = 60.0) -> int:
    """Write the inflated member ``member`` of the zip at ``url`` to ``sink``; returns the bytes written."""
    info = list_members(url, timeout, archive_size).get(member)
    if info is None:
        raise ModelCorruptError(f"{url} has no member {member}")
    if info.flags & _ENCRYPTED_FLAG:
        raise ModelCorruptError(f"member {member} of {url} is encrypted")
    if info.method not in (_STORED, _DEFLATED):
        raise RangesUnusable(f"member {member} uses compression method {info.method}")
    start = _data_offset(url, info, timeout)
    inflater = zlib.decompressobj(-zlib.MAX_WBITS) if info.method == _DEFLATED else None
    written = 0
    with _open_range(url, f"{start}-{start + info.compressed_size - 1}", timeout) as response:
        try:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                data = inflater.decompress(chunk) if inflater else chunk
                sink.write(data)
                written += len(data)
                if progress is not None:
                    progress(written, info.size)
            if inflater is not None:
                data = inflater.flush()
                sink.write(data)
                written += len(data)
        except zlib.error as error:
            raise ModelCorruptError(f"member {member} of {url} does not inflate: {error}") from None
        except OSError as error:
            raise ModelDownloadError(f"reading {member} from {url} stopped at byte {written}: {error}") from None
    if inflater is not None and not inflater.eof:
        raise ModelDownloadError(f"the data of {member} from {url} ended early")
    return written
