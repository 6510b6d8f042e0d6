"""The engine's installation as facts: package versions, where models run and why, models present and
missing, and the ComfyUI folders around the pack.

``playalter doctor`` prints them and ``/api/services/status`` carries them (the runner adds its own
facts, see ``runner/installation.py``), so that both tell the same story. Versions are read from the
packages' metadata: nothing heavy is imported to report them.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

from .. import models
from ..core.errors import PlayalterError
from . import onnx_runtime, packages

# Not resolved: a pack linked into custom_nodes/ is imported through the link, which is where ComfyUI is.
PACKAGE_ROOT = Path(__file__).absolute().parents[2]


def package_versions() -> dict:
    """Python and the engine's main packages; opencv and onnxruntime as every distribution providing them."""
    return {
        "python": {"version": platform.python_version(), "executable": sys.executable},
        "torch": packages.version("torch"),
        "numpy": packages.version("numpy"),
        "opencv": packages.installed(packages.OPENCV),
        "onnxruntime": packages.installed(packages.RUNTIMES),
    }


def execution() -> dict:
    """Where models run and why (``onnx_runtime.execution_path``), or why no path can be chosen."""
    try:
        return onnx_runtime.execution_path().to_dict()
    except PlayalterError as error:  # e.g. PLAYALTER_RUNTIME=torch without torch
        return {"path": None, "reason": str(error)}


def _model_present(name: str) -> bool:
    spec = models.get_spec(name)
    return models.embedded_path(name) is not None if spec.embedded else models.is_available(name)


def model_facts() -> dict:
    """The registry's models found and missing (files found, hashes not checked), and the folders searched."""
    present = [name for name in models.REGISTRY if _model_present(name)]
    kinds = sorted({model_file.folder for spec in models.REGISTRY.values() for model_file in spec.files})
    return {
        "present": present,
        "missing": [{"name": name, "how_to_obtain": spec.how_to_obtain}
                    for name, spec in models.REGISTRY.items() if name not in present],
        "search_dirs": {kind: [str(path) for path in models.search_dirs(kind)] for kind in kinds},
    }


def _folder(path: Path) -> dict:
    return {"path": str(path), "exists": path.is_dir()}


def comfyui_folders(package_root: Path = PACKAGE_ROOT) -> dict:
    """The ComfyUI install around the pack, found from where the pack sits (``ComfyUI/custom_nodes/<pack>``):
    its root, ``models``, ``input`` and ``output`` folders; ``root`` None when the pack is not inside one."""
    custom_nodes = package_root.parent
    if custom_nodes.name != "custom_nodes":
        return {"root": None, "pack": str(package_root)}
    root = custom_nodes.parent
    return {"root": str(root), "pack": str(package_root),
            **{name: _folder(root / name) for name in ("models", "input", "output")}}


def facts() -> dict:
    """Everything above in one JSON-ready dict."""
    problem = packages.problem()
    return {
        "packages": package_versions(),
        "onnxruntime_problem": problem.to_dict() if problem else None,
        "execution": execution(),
        "models": model_facts(),
        "comfyui": comfyui_folders(),
    }
