"""onnxruntime sessions: provider choice and a per-process cache.

CUDA is preferred when the installed onnxruntime offers it; otherwise the CPU
provider is used and one log line says so. Sessions are cached by
(model path, providers) so every node and request shares them.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Callable

logger = logging.getLogger(__name__)

_sessions: dict[tuple[str, tuple[str, ...]], object] = {}
_lock = threading.Lock()
_warned_cpu = False
_load_listeners: list[Callable[[str, float], None]] = []


def add_load_listener(listener: Callable[[str, float], None]) -> None:
    """Call ``listener(model name, seconds)`` after each model load (the service's metrics)."""
    _load_listeners.append(listener)


def remove_load_listener(listener: Callable[[str, float], None]) -> None:
    if listener in _load_listeners:
        _load_listeners.remove(listener)


def available_providers() -> list[str]:
    import onnxruntime

    return onnxruntime.get_available_providers()


def choose_providers(device: str = "auto") -> tuple[str, ...]:
    """("CUDAExecutionProvider", "CPUExecutionProvider") when CUDA works, else CPU only."""
    global _warned_cpu
    available = available_providers()
    if device in ("auto", "cuda") and "CUDAExecutionProvider" in available and _cuda_usable():
        return ("CUDAExecutionProvider", "CPUExecutionProvider")
    if device == "cuda":
        raise RuntimeError(f"CUDA was requested but onnxruntime offers only {available}")
    if not _warned_cpu:
        logger.info("onnxruntime: using CPUExecutionProvider (no usable CUDA)")
        _warned_cpu = True
    return ("CPUExecutionProvider",)


def _cuda_usable() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False


def session(model: str | Path | bytes, device: str = "auto", threads: int = 0):
    """A cached ``onnxruntime.InferenceSession`` for a model path (or serialized bytes)."""
    import onnxruntime

    providers = choose_providers(device)
    key_model = model if isinstance(model, bytes) else str(Path(model).resolve())
    key = (key_model if isinstance(key_model, str) else str(hash(key_model)), providers)
    with _lock:
        cached = _sessions.get(key)
        if cached is not None:
            return cached
        started = time.perf_counter()
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        created = onnxruntime.InferenceSession(
            model if isinstance(model, bytes) else str(model), sess_options=options, providers=list(providers)
        )
        _sessions[key] = created
        seconds = time.perf_counter() - started
        model_name = Path(key[0]).name if isinstance(model, (str, Path)) else "in-memory model"
        for listener in list(_load_listeners):
            listener(model_name, seconds)
        logger.debug("loaded %s on %s", key[0], created.get_providers()[0])
        return created


def clear_cache() -> None:
    with _lock:
        _sessions.clear()
