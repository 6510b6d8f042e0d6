"""Model sessions: execution path choice, models in their fastest correct form, and caches.

Execution path, probed once per process (``execution_path``):

1. onnxruntime's CUDA provider, when it really works, not merely when it is listed: ``onnxruntime-gpu``
   lists ``CUDAExecutionProvider`` even on a machine without a GPU, and asking it for CUDA there makes
   onnxruntime print a page of library-loading errors before falling back. So it is chosen only when
   the NVIDIA driver reports a device AND the CUDA provider library (with its CUDA/cuDNN) loads;
2. else torch on its accelerator (CUDA or MPS), the models converted by onnx2torch
   (``torch_runtime``): every ComfyUI install has a CUDA-enabled torch;
3. else onnxruntime on the CPU. ONE log line says which path runs and why.

Two onnxruntime builds installed together, or a CPU-only build beside an NVIDIA GPU (``packages``), is
warned about once, with the command that fixes it, and named in the path's reason.

Every model is prepared before onnxruntime sees it (``onnx_graph``: initializers listed as graph
inputs become constants, so batch norms fold and weights pre-pack), all graph optimisations are on,
and the optimised graph is kept on disk (``<user data>/onnx-cache``, keyed by the model's sha256, the
onnxruntime version and the provider) so a later process skips the optimisation. Sessions are cached by
(model, path, threads) so every node and request shares them.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

from ..core.errors import InvalidParameterError, ModelCorruptError
from ..core.user_dirs import user_data_dir
from . import cuda_driver, onnx_graph, packages

logger = logging.getLogger(__name__)

CPU = ("CPUExecutionProvider",)
CUDA = ("CUDAExecutionProvider", "CPUExecutionProvider")
DEVICES = ("auto", "cpu", "cuda")

CACHE_FOLDER = "onnx-cache"
RUNTIME_ENV = "PLAYALTER_RUNTIME"

_sessions: dict[tuple[str, str, int], object] = {}
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


@dataclass(frozen=True)
class ExecutionPath:
    """Where models run: ``runtime`` "onnxruntime" with ``providers``, or "torch" on ``torch_device``."""

    runtime: str
    providers: tuple[str, ...] = CPU
    torch_device: str = ""
    reason: str = ""

    @property
    def name(self) -> str:
        if self.runtime == "torch":
            return f"torch-{self.torch_device}"
        return "onnxruntime-cuda" if self.providers == CUDA else "onnxruntime-cpu"

    def to_dict(self) -> dict:
        return {"path": self.name, "reason": self.reason}


def execution_path(device: str = "auto") -> ExecutionPath:
    """The path models of ``device`` ("auto", "cpu", "cuda") take, and why (see the module docstring).

    ``$PLAYALTER_RUNTIME=torch`` sends "auto" to torch even where onnxruntime could run (on the CPU when
    torch sees no accelerator): to compare the two paths, or to avoid an onnxruntime-gpu that misbehaves."""
    if device not in DEVICES:
        raise InvalidParameterError(f"unknown device '{device}'; choose one of {', '.join(DEVICES)}")
    if device == "cpu":
        return ExecutionPath("onnxruntime", CPU, reason="device 'cpu' was requested")
    packages.warn_once()
    package_problem = packages.problem()
    note = f"; {package_problem}" if package_problem else ""
    if os.environ.get(RUNTIME_ENV, "").strip().lower() == "torch":
        from . import torch_runtime

        absent = torch_runtime.missing()
        if absent:
            raise InvalidParameterError(f"{RUNTIME_ENV}=torch is set but {absent}")
        torch_device, described = torch_runtime.accelerator()
        return ExecutionPath("torch", torch_device=torch_device or "cpu",
                             reason=f"{RUNTIME_ENV}=torch; {described}{note}")
    problem = cuda_problem()
    if problem is None:
        path = ExecutionPath("onnxruntime", CUDA, reason=f"onnxruntime's CUDA provider works{note}")
        _log_path_once(path)
        return path
    from . import torch_runtime

    torch_device, described = torch_runtime.accelerator()
    if torch_device is not None:
        path = ExecutionPath("torch", torch_device=torch_device,
                             reason=f"onnxruntime cannot use CUDA ({problem}); {described}{note}")
        _log_path_once(path)
        return path
    if device == "cuda":
        raise InvalidParameterError(f"device 'cuda' was requested but CUDA cannot be used: {problem}{note}")
    _log_cpu_once(problem)
    reason = problem if described == problem else f"{problem}; torch: {described}"
    return ExecutionPath("onnxruntime", CPU, reason=reason + note)


@lru_cache(maxsize=1)
def _log_path_once(path: ExecutionPath) -> None:
    logger.info("models run on %s: %s", path.name, path.reason)


def choose_providers(device: str = "auto") -> tuple[str, ...]:
    """onnxruntime providers for ``device``: CUDA then CPU when the CUDA provider works, else CPU only."""
    return execution_path(device).providers


@lru_cache(maxsize=1)
def _log_cpu_once(problem: str) -> None:
    logger.info("onnxruntime: using the CPU (%s)", problem)


@lru_cache(maxsize=1)
def cuda_problem() -> str | None:
    """Why the CUDA provider cannot be used here, or None when it can. Probed once per process."""
    if "CUDAExecutionProvider" not in available_providers():
        return "the installed onnxruntime has no CUDA provider"
    if cuda_driver.device_count() == 0:
        return "no CUDA device or NVIDIA driver found"
    provider = _cuda_provider_library()
    try:
        ctypes.CDLL(str(provider), mode=getattr(ctypes, "RTLD_GLOBAL", 0))
    except OSError as error:
        return f"the CUDA provider cannot load its CUDA/cuDNN libraries ({error})"
    return None


def _cuda_provider_library() -> Path:
    import onnxruntime

    name = "onnxruntime_providers_cuda.dll" if sys.platform == "win32" else "libonnxruntime_providers_cuda.so"
    return Path(onnxruntime.__file__).parent / "capi" / name


def session(model: str | Path | bytes, device: str = "auto", threads: int = 0):
    """A cached session for a model path (or serialized bytes): an ``onnxruntime.InferenceSession``, or a
    ``torch_runtime.TorchSession`` on the torch path. A file that cannot be parsed raises ModelCorruptError
    naming the file."""
    path = execution_path(device)
    threads = threads or _default_threads
    if isinstance(model, bytes):
        model_key = f"bytes:{len(model)}:{hash(model)}"  # bytes cache their hash: cheap on every call
    else:
        model_key = str(Path(model).resolve())
    key = (model_key, path.name, threads)
    with _lock:
        cached = _sessions.get(key)
        if cached is not None:
            return cached
        started = time.perf_counter()
        source = model if isinstance(model, bytes) else _read(Path(model))
        created = _torch_session(source, path, _display_name(model)) if path.runtime == "torch" else None
        try:
            if created is None:
                created = _onnxruntime_session(source, path.providers if path.runtime != "torch" else CPU, threads)
        except Exception as error:  # onnx / onnxruntime raise their own types
            where = "the model bytes" if isinstance(model, bytes) else str(model)
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ModelCorruptError(
                f"onnxruntime cannot load {where}: {message}. "
                "The file is damaged or not the expected model: run 'playalter models' to check it"
            ) from None
        _sessions[key] = created
        seconds = time.perf_counter() - started
        for listener in list(_load_listeners):
            listener(_display_name(model), seconds)
        logger.debug("loaded %s on %s", model_key, created.get_providers()[0])
        return created


def _torch_session(source: bytes, path: ExecutionPath, name: str):
    """The model converted for torch, or None (one warning) when onnx2torch or torch cannot run it:
    that model then runs on onnxruntime's CPU."""
    from .torch_runtime import TorchSession

    try:
        return TorchSession(_prepared(source), path.torch_device)
    except Exception as error:  # onnx / onnx2torch / torch raise their own types
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        logger.warning("torch cannot run %s (%s): it runs on onnxruntime's CPU", name, message)
        return None


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ModelCorruptError(f"cannot read the model file {path} ({error.strerror or error})") from None


def _prepared(source: bytes):
    """The model as an ``onnx.ModelProto`` with its initializers as constants (``onnx_graph``)."""
    import onnx

    model = onnx.load_from_string(source)
    onnx_graph.constant_initializers(model)
    return model


def cache_dir() -> Path:
    """Where optimised graphs are kept between processes."""
    return user_data_dir() / CACHE_FOLDER


def _cache_file(source: bytes, providers: tuple[str, ...]) -> Path:
    import onnxruntime

    digest = hashlib.sha256(source).hexdigest()[:32]
    return cache_dir() / f"{digest}-ort{onnxruntime.__version__}-{providers[0].removesuffix('ExecutionProvider')}.onnx"


def _onnxruntime_session(source: bytes, providers: tuple[str, ...], threads: int):
    """An InferenceSession with every optimisation; the optimised graph read from / written to the disk cache."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: no per-node placement warnings
    # Idle worker threads sleep instead of spinning: a spinning pool keeps the cores busy after each run,
    # slowing whatever runs next on them (OpenCV's dense landmarks, the mask, other workers' sessions).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = threads
    cached = _cache_file(source, providers)
    if cached.is_file():
        try:
            return onnxruntime.InferenceSession(str(cached), sess_options=options, providers=list(providers))
        except Exception:  # a damaged cache file: rebuild it below
            cached.unlink(missing_ok=True)
    prepared = _prepared(source).SerializeToString()
    partial = cached.with_name(f"{cached.stem}.{os.getpid()}.{threading.get_ident()}.partial")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        # Extended (not layout-specific) optimisations are saved, so the file fits any CPU of this provider.
        saver = onnxruntime.SessionOptions()
        saver.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        saver.log_severity_level = 3
        saver.optimized_model_filepath = str(partial)
        onnxruntime.InferenceSession(prepared, sess_options=saver, providers=list(providers))
        os.replace(partial, cached)
        return onnxruntime.InferenceSession(str(cached), sess_options=options, providers=list(providers))
    except OSError as error:  # read-only data folder: run without the disk cache
        logger.debug("optimised model not cached (%s)", error.strerror or error)
        partial.unlink(missing_ok=True)
        return onnxruntime.InferenceSession(prepared, sess_options=options, providers=list(providers))


def clear_cache() -> None:
    with _lock:
        _sessions.clear()
