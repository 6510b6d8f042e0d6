"""onnxruntime sessions: provider choice and a per-process cache.

CUDA is preferred when the installed onnxruntime offers it; otherwise the CPU
provider is used and one log line says so. Sessions are cached by
(model path, providers) so every node and request shares them.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

logger = logging.getLogger(__name__)

_sessions: dict[tuple[str, tuple[str, ...]], object] = {}
_lock = threading.Lock()
_warned_cpu = False


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
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        created = onnxruntime.InferenceSession(
            model if isinstance(model, bytes) else str(model), sess_options=options, providers=list(providers)
        )
        _sessions[key] = created
        logger.debug("loaded %s on %s", key[0], created.get_providers()[0])
        return created


def clear_cache() -> None:
    with _lock:
        _sessions.clear()
