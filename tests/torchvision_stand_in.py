"""Import a package that imports torchvision, in a test session whose CPU torch has no torchvision.

The test command installs the CPU build of torch 2.13.0 from local disk; PyPI's torchvision wheels are built
against the CUDA build and do not load beside it. Two test-side packages import torchvision only for
functions the tests never reach through it, or can supply themselves:

- facenet-pytorch (the independent judge, ``mtcnn_judge``) uses ``to_tensor`` and ``batched_nms``;
- onnx2torch (the torch execution path, ``pipelines/runtime/torch_runtime.py``) imports ``nms``, ``box_convert``
  and ``roi_align`` for the ONNX operators of those names, which no model of the project contains.

``import_beside_stand_in(package, functions)`` imports ``package`` with stand-in ``torchvision`` modules
offering exactly ``functions`` ({"ops.nms": callable, ...}) and removes them afterwards, so nothing else in
the session sees a torchvision. Where a real torchvision imports, it is used instead.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Callable


def torchvision_imports() -> bool:
    try:
        importlib.import_module("torchvision.ops")
        return True
    except Exception:
        for name in [name for name in sys.modules if name.split(".")[0] == "torchvision"]:
            del sys.modules[name]
        return False


def _stand_in(functions: dict[str, Callable]) -> dict[str, types.ModuleType]:
    modules: dict[str, types.ModuleType] = {"torchvision": types.ModuleType("torchvision")}
    for dotted, function in functions.items():
        *path, attribute = dotted.split(".")
        parent = modules["torchvision"]
        for depth in range(1, len(path) + 1):
            name = ".".join(["torchvision", *path[:depth]])
            if name not in modules:
                modules[name] = types.ModuleType(name)
                setattr(parent, path[depth - 1], modules[name])
            parent = modules[name]
        setattr(parent, attribute, function)
    return modules


def import_beside_stand_in(package: str, functions: dict[str, Callable]) -> types.ModuleType:
    """``package`` imported; with stand-in torchvision modules while it imports when the real one fails."""
    if package in sys.modules or torchvision_imports():
        return importlib.import_module(package)
    stand_in = _stand_in(functions)
    sys.modules.update(stand_in)
    try:
        return importlib.import_module(package)
    finally:
        for name in stand_in:
            sys.modules.pop(name, None)


def unreachable(name: str) -> Callable:
    """A stand-in for a function the tests never call through the stand-in."""
    def fail(*args, **kwargs):
        raise NotImplementedError(f"torchvision.{name} is a test stand-in: no project model uses it")

    return fail


def load_onnx2torch() -> str | None:
    """Import onnx2torch, when installed, beside a stand-in for the three torchvision functions it names;
    what the torch path still lacks (``torch_runtime.missing()``, asked again), or None."""
    from playalter.pipelines.runtime import torch_runtime

    if importlib.util.find_spec("onnx2torch") is not None:
        import_beside_stand_in("onnx2torch", {name: unreachable(name)
                                              for name in ("ops.nms", "ops.box_convert", "ops.roi_align")})
        torch_runtime.missing.cache_clear()
    return torch_runtime.missing()
