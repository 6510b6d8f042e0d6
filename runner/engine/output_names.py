"""File names for what the CLI writes: distinct per input, never overwriting another output of the same run.

``distinct_stems`` names each input's outputs: its stem when no other input has the same one (compared
case-insensitively, as on macOS and Windows), else the stem with its extension (``photo_bmp``,
``photo_tiff``), then a number for inputs that still collide (``photo_jpg_2``). The same inputs in the
same order always get the same names. ``write_new`` never replaces a file: it adds ``_2``, ``_3``...
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Sequence


def distinct_stems(paths: Sequence[Path]) -> list[str]:
    counts = Counter(path.stem.lower() for path in paths)
    wanted = [f"{path.stem}_{path.suffix.lstrip('.').lower()}" if counts[path.stem.lower()] > 1 and path.suffix
              else path.stem for path in paths]
    taken: set[str] = set()
    names = []
    for name in wanted:
        candidate, number = name, 1
        while candidate.lower() in taken:
            number += 1
            candidate = f"{name}_{number}"
        taken.add(candidate.lower())
        names.append(candidate)
    return names


def write_new(path: Path, data: bytes) -> Path:
    """Create ``path`` (or ``stem_N`` beside it when it exists) with ``data``; the path written."""
    candidate, number = path, 1
    while True:
        try:
            with candidate.open("xb") as handle:
                handle.write(data)
            return candidate
        except FileExistsError:
            number += 1
            candidate = path.with_name(f"{path.stem}_{number}{path.suffix}")
