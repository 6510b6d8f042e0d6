"""Files bound to a run's Load Image / Load Video nodes, found by name before the input folder (per thread), and
the input folder's side of those nodes: their choices, their validation and the file a name stands for."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path

from ...nodes import compat
from ...nodes.files import resolve_inside
from ...pipelines.core.errors import InvalidParameterError
from ...pipelines.core.quoting import excerpt

_local = threading.local()


def set_injected_images(files: Mapping[str, bytes | Path] | None) -> None:
    """Runner side: the run's bound files (encoded bytes, or a local path for a video), for this thread."""
    _local.injected = dict(files or {})


def injected() -> dict[str, bytes | Path]:
    return getattr(_local, "injected", {})


def injected_input(name: str) -> bytes | Path | None:
    return injected().get(name)


def input_choices(suffixes: tuple[str, ...]) -> list[str]:
    """The names of the input folder's files ending in one of ``suffixes`` (lower case), sorted: a Load node's list."""
    folder = compat.folder("input")
    return sorted(path.name for path in folder.iterdir() if path.suffix.lower() in suffixes) if folder.is_dir() else []


def validate_input(name: str, kind: str) -> str | bool:
    """A Load node's ``VALIDATE_INPUTS``: True for a file bound to the run or in the input folder, else why not
    (``kind``: "image", "video")."""
    if injected_input(name) is not None:
        return True
    try:
        path = resolve_inside(compat.folder("input"), name)
    except InvalidParameterError as error:
        return str(error)
    if not path.is_file():
        return f"Invalid {kind} file: {excerpt(name)} is not in the input folder"
    return True


def input_path(name: str, kind: str) -> Path:
    """The input folder's file called ``name``; an ``InvalidParameterError`` naming the ``kind`` when it is absent
    or the name leads out of the folder."""
    path = resolve_inside(compat.folder("input"), name)
    if not path.is_file():
        raise InvalidParameterError(f"{kind} '{excerpt(name)}' was not found in the input folder")
    return path
