"""Files bound to a run's Load Image / Load Video nodes, found by name before the input folder (per thread)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path

_local = threading.local()


def set_injected_images(files: Mapping[str, bytes | Path] | None) -> None:
    """Runner side: the run's bound files (encoded bytes, or a local path for a video), for this thread."""
    _local.injected = dict(files or {})


def injected() -> dict[str, bytes | Path]:
    return getattr(_local, "injected", {})


def injected_input(name: str) -> bytes | Path | None:
    return injected().get(name)
