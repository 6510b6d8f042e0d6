"""onnxruntime sessions: provider choice and a per-process cache.

CUDA is used when it really works, not merely when it is listed: ``onnxruntime-gpu``
lists ``CUDAExecutionProvider`` even on a machine without a GPU, and asking it for
CUDA there makes onnxruntime print a page of library-loading errors before falling
back. So CUDA is chosen only when the NVIDIA driver reports a device AND the CUDA
provider library (with its CUDA/cuDNN dependencies) loads; otherwise the CPU
provider is used and ONE log line says why. Sessions are cached by (model, providers)
so every node and request shares them.
"""

from __future__ import annotations

import ctypes
import logging
import sys
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Callable

from .errors import InvalidParameterError, ModelCorruptError

logger = logging.getLogger(__name__)

CPU = ("CPUExecutionProvider",)
CUDA = ("CUDAExecutionProvider", "CPUExecutionProvider")
DEVICES = ("auto", "cpu", "cuda")

_sessions: dict[tuple[str, tuple[str, ...], int], object] = {}
_lock = threading.Lock()
_load_listeners: list[Callable[[str, float], None]] = []
_default_threads = 0  # onnxruntime's own choice: one thread per physical core


def add_load_listener(listener: Callable[[str, float], None]) -> None:
    """Call ``listener(model name, seconds)`` after each model load (the service's metrics)."""
    _load_listeners.append(listener)


def remove_load_listener(listener: Callable[[str, float], None]) -> None:
    if listener in _load_listeners:
        _load_listeners.remove(listener)


def set_default_threads(threads: int) -> None:
    """Intra-op threads of sessions created without an explicit count (0: onnxruntime's choice).

    A server running N items at once gives each session cores / N threads, so that
    concurrent runs do not oversubscribe the cores.
    """
    global _default_threads
    _default_threads = max(0, int(threads))


def _display_name(model: str | Path | bytes) -> str:
    return "in-memory model" if isinstance(model, bytes) else Path(model).name


def available_providers() -> list[str]:
    import onnxruntime

    return onnxruntime.get_available_providers()


def choose_providers(device: str = "auto") -> tuple[str, ...]:
    """CUDA then CPU when CUDA works (device "auto" or "cuda"), else CPU only."""
    if device not in DEVICES:
        raise InvalidParameterError(f"unknown device '{device}'; choose one of {', '.join(DEVICES)}")
    if device == "cpu":
        return CPU
    problem = cuda_problem()
    if problem is None:
        return CUDA
    if device == "cuda":
        raise InvalidParameterError(f"device 'cuda' was requested but CUDA cannot be used: {problem}")
    _log_cpu_once(problem)
    return CPU


@lru_cache(maxsize=1)
def _log_cpu_once(problem: str) -> None:
    logger.info("onnxruntime: using the CPU (%s)", problem)


@lru_cache(maxsize=1)
def cuda_problem() -> str | None:
    """Why the CUDA provider cannot be used here, or None when it can. Probed once per process."""
    if "CUDAExecutionProvider" not in available_providers():
        return "the installed onnxruntime has no CUDA provider"
    count = _cuda_device_count()
    if count == 0:
        return "no CUDA device or NVIDIA driver found"
    provider = _cuda_provider_library()
    try:
        ctypes.CDLL(str(provider), mode=getattr(ctypes, "RTLD_GLOBAL", 0))
    except OSError as error:
        return f"the CUDA provider cannot load its CUDA/cuDNN libraries ({error})"
    return None


def _cuda_device_count() -> int:
    names = ("nvcuda.dll",) if sys.platform == "win32" else ("libcuda.so.1", "libcuda.so")
    for name in names:
        try:
            driver = ctypes.CDLL(name)
        except OSError:
            continue
        count = ctypes.c_int(0)
        if driver.cuInit(0) != 0 or driver.cuDeviceGetCount(ctypes.byref(count)) != 0:
            return 0
        return count.value
    return 0


def _cuda_provider_library() -> Path:
    import onnxruntime

    name = "onnxruntime_providers_cuda.dll" if sys.platform == "win32" else "libonnxruntime_providers_cuda.so"
    return Path(onnxruntime.__file__).parent / "capi" / name


def session(model: str | Path | bytes, device: str = "auto", threads: int = 0):
    """A cached ``onnxruntime.InferenceSession`` for a model path (or serialized bytes).

    A file onnxruntime cannot parse raises ModelCorruptError naming the file.
    """
    import onnxruntime

    providers = choose_providers(device)
    threads = threads or _default_threads
    if isinstance(model, bytes):
        model_key = f"bytes:{len(model)}:{hash(model)}"  # bytes cache their hash: cheap on every call
    else:
        model_key = str(Path(model).resolve())
    key = (model_key, providers, threads)
    with _lock:
        cached = _sessions.get(key)
        if cached is not None:
            return cached
        started = time.perf_counter()
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only: no per-node placement warnings
        if threads:
            options.intra_op_num_threads = threads
        source = model if isinstance(model, bytes) else str(model)
        try:
            created = onnxruntime.InferenceSession(source, sess_options=options, providers=list(providers))
        except Exception as error:  # onnxruntime raises its own exception types from C++
            where = "the model bytes" if isinstance(model, bytes) else str(model)
            raise ModelCorruptError(
                f"onnxruntime cannot load {where}: {str(error).splitlines()[0]}. "
                "The file is damaged or not the expected model: run 'playalter models' to check it"
            ) from None
        _sessions[key] = created
        seconds = time.perf_counter() - started
        for listener in list(_load_listeners):
            listener(_display_name(model), seconds)
        logger.debug("loaded %s on %s", model_key, created.get_providers()[0])
        return created


def clear_cache() -> None:
    with _lock:
        _sessions.clear()
