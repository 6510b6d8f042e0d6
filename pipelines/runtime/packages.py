"""Which Python packages are installed, read from their metadata (nothing is imported), and onnxruntime pairs.

``onnxruntime``, ``onnxruntime-gpu``, ``-directml``, ``-openvino`` and the other builds all install the
one module ``onnxruntime``. With two of them installed, the files of the one installed last win, and
uninstalling either leaves the other broken: such a pair often runs on the CPU alone ("GPU not used"),
the most common complaint in an environment shared by many node packs. A CPU-only ``onnxruntime`` on a
machine with an NVIDIA GPU leaves that GPU to torch at best. ``problem()`` says which of the two is the
case, with the pip command that fixes it; the command uses the running interpreter, because a bare
``pip`` can install into another Python (ComfyUI's Windows portable build runs its own embedded one).
"""

from __future__ import annotations

import logging
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata

from . import cuda_driver

logger = logging.getLogger(__name__)

# The distributions that provide the module ``onnxruntime``.
RUNTIMES = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml", "onnxruntime-openvino",
            "onnxruntime-rocm", "onnxruntime-qnn", "onnxruntime-silicon", "onnxruntime-training")
# The distributions that provide the module ``cv2``: any one of them serves.
OPENCV = ("opencv-python", "opencv-python-headless", "opencv-contrib-python", "opencv-contrib-python-headless")

SHELL_SAFE = re.compile(r"[\w@+=:,./-]+")  # parts no shell splits, expands or redirects


def version(name: str) -> str | None:
    """The installed version of distribution ``name``, or None when it is not installed."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def installed(names: tuple[str, ...]) -> dict[str, str]:
    """The distributions of ``names`` that are installed, with their versions."""
    found = {name: version(name) for name in names}
    return {name: found_version for name, found_version in found.items() if found_version is not None}


@dataclass(frozen=True)
class PackageProblem:
    """What is wrong with the installed onnxruntime packages, and the command that fixes it."""

    message: str
    fix: str

    def to_dict(self) -> dict:
        return {"message": self.message, "fix": self.fix}

    def __str__(self) -> str:
        return f"{self.message}; fix it with: {self.fix}"


def _quoted(part: str) -> str:
    """``part`` in double quotes when a shell would split or redirect it: double quotes, unlike shlex's single
    ones, also work in Windows' cmd.exe (ComfyUI's portable build lives in "C:\\ComfyUI portable\\...")."""
    return part if SHELL_SAFE.fullmatch(part) else f'"{part}"'


def pip_command(*arguments: str) -> str:
    """A shell line running pip of the Python running now, each part quoted where a shell needs it."""
    return " ".join(_quoted(part) for part in (sys.executable, "-m", "pip", *arguments))


def fix_command(remove: list[str], keep: str) -> str:
    """Uninstall every listed build, then install the one to keep: uninstalling only one of a pair would
    delete files the other shares."""
    return f"{pip_command('uninstall', '-y', *sorted(remove))} && {pip_command('install', keep)}"


def _build_to_keep(found: dict[str, str], nvidia: bool) -> str:
    """onnxruntime-gpu on an NVIDIA machine; else a build chosen for other hardware (DirectML, OpenVINO...)
    when one is there; else the plain CPU build."""
    if nvidia:
        return "onnxruntime-gpu"
    chosen = [name for name in found if name not in ("onnxruntime", "onnxruntime-gpu")]
    return chosen[0] if chosen else "onnxruntime"


@lru_cache(maxsize=1)
def problem() -> PackageProblem | None:
    """The onnxruntime pair or the CPU-only build beside an NVIDIA GPU, or None. Looked up once per process."""
    found = installed(RUNTIMES)
    nvidia = cuda_driver.device_count() > 0
    if len(found) > 1:
        return PackageProblem(
            f"{' and '.join(sorted(found))} are installed together: they share the one module 'onnxruntime', so "
            "whichever was installed last runs (often the CPU-only one) and removing one breaks the other",
            fix_command(list(found), _build_to_keep(found, nvidia)))
    if list(found) == ["onnxruntime"] and nvidia:
        return PackageProblem(
            "the CPU-only onnxruntime is installed on a machine with an NVIDIA GPU: onnxruntime cannot use the GPU",
            fix_command(list(found), "onnxruntime-gpu"))
    return None


@lru_cache(maxsize=1)
def warn_once() -> None:
    """Log the onnxruntime packages' problem, if any, once per process."""
    found = problem()
    if found is not None:
        logger.warning("onnxruntime packages: %s", found)
