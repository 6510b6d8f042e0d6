"""File names inside the input / output / temp folders.

Every name a workflow supplies (an image to load, a filename prefix to save
under) is resolved with ``resolve_inside``: absolute paths, ``..`` and symlinks
that lead out of the folder are refused. Saved files are numbered like
ComfyUI's: ``{prefix}_{counter:05}_.{ext}``, the counter one past the highest
already in the folder for that extension, so an image and the JSON saved beside
it under one prefix get the same number. A saved file's content is written
beside it and renamed over it once complete (``write_whole``): a full disk or a
crash never leaves a half-written file under its name.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable

from ..pipelines.core.errors import InvalidParameterError


@dataclass(frozen=True)
class SavedFile:
    path: Path
    filename: str
    subfolder: str  # relative to the folder, "/"-separated; "" for the folder itself


def resolve_inside(root: Path, name: str) -> Path:
    """``root / name`` resolved, refusing names that would leave ``root``."""
    posix = str(name).replace("\\", "/")
    if not posix or posix.startswith("/") or re.match(r"^[A-Za-z]:", posix):
        raise InvalidParameterError(
            f"'{name}' is not allowed: give a file name relative to the folder {root}, not an absolute path"
        )
    if ".." in PurePosixPath(posix).parts:
        raise InvalidParameterError(f"'{name}' is not allowed: '..' may not be used to leave the folder {root}")
    root_real = root.resolve()
    candidate = (root_real / posix).resolve()
    if not candidate.is_relative_to(root_real):
        raise InvalidParameterError(f"'{name}' is not allowed: it leads out of the folder {root} (symlink)")
    return candidate


def reserve_numbered_file(root: Path, filename_prefix: str, extension: str) -> SavedFile:
    """Create (empty, exclusively) the next ``{prefix}_{counter:05}_.{extension}`` under ``root``.

    ``filename_prefix`` may contain a subfolder ("faces/run"). Creating the file
    exclusively keeps concurrent runs from picking the same number.
    """
    prefix = PurePosixPath(str(filename_prefix).replace("\\", "/"))
    if not prefix.name:
        raise InvalidParameterError("filename_prefix must not be empty")
    subfolder = str(prefix.parent) if str(prefix.parent) != "." else ""
    directory = resolve_inside(root, subfolder) if subfolder else root.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    numbered = re.compile(rf"^{re.escape(prefix.name)}_(\d+)_\.{re.escape(extension)}$")
    used = [int(match.group(1)) for entry in directory.iterdir() if (match := numbered.match(entry.name))]
    counter = max(used, default=0) + 1
    while True:
        filename = f"{prefix.name}_{counter:05}_.{extension}"
        path = directory / filename
        try:
            path.open("xb").close()
        except FileExistsError:
            counter += 1
            continue
        return SavedFile(path=path, filename=filename, subfolder=subfolder)


def write_whole(saved: SavedFile, write: Callable[[BinaryIO], None]) -> None:
    """Fill the file ``reserve_numbered_file`` created: ``write(handle)`` into a hidden file beside it, flushed to
    disk, then renamed over it. On failure both are removed and the error raised."""
    partial = saved.path.with_name(f".{saved.path.name}.part")
    try:
        with open(partial, "xb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, saved.path)
    except BaseException:
        partial.unlink(missing_ok=True)
        saved.path.unlink(missing_ok=True)
        raise
