"""The project's ONNX models run by torch: the GPU path when onnxruntime's CUDA provider is not usable.

Every ComfyUI install has a CUDA-enabled torch, while ``onnxruntime-gpu`` often does not match the installed
CUDA/cuDNN (or plain ``onnxruntime`` shadows it). So when torch sees an accelerator, a model is converted
once per process with ``onnx2torch`` and run by torch on that device. ``TorchSession`` offers the part
of ``onnxruntime.InferenceSession`` the pipelines use (``run``, ``get_inputs``, ``get_outputs``,
``get_providers``), so callers do not know which runtime computes.

Precision: on an accelerator the model runs in float16 when a check at load time (the model on a
random input in float32 and float16) agrees within ``HALF_TOLERANCE`` of the output's range; otherwise,
and always on the CPU, in float32. Outputs are always float32 numpy arrays.
"""

from __future__ import annotations

import importlib.util
import sys
import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import onnx

from . import cuda_driver

# onnx2torch's Slice indexes with a list, which torch deprecates; the result is right, the warning noise
warnings.filterwarnings("ignore", message="Using a non-tuple sequence", category=UserWarning, module=r"onnx2torch\.")

HALF_TOLERANCE = 1e-2  # max |fp16 - fp32| / max |fp32| per output for fp16 to be used
_CHECK_SIDE = 256  # symbolic spatial dimensions take this size in the fp16 check


@dataclass(frozen=True)
class Argument:
    """An input or output as ``onnxruntime.NodeArg`` describes it: name, shape (int or symbol), type."""

    name: str
    shape: list
    type: str = "tensor(float)"


@lru_cache(maxsize=1)
def accelerator() -> tuple[str | None, str]:
    """(torch device name "cuda" / "mps", its description) when torch can use one, else (None, why not).

    torch is imported only where an accelerator can exist (an NVIDIA driver reports a device, or macOS)."""
    if cuda_driver.device_count() == 0 and sys.platform != "darwin":
        return None, "no CUDA device or NVIDIA driver found"
    absent = missing()
    if absent is not None:
        return None, absent
    import torch

    if torch.cuda.is_available():
        return "cuda", f"torch {torch.__version__} on {torch.cuda.get_device_name(0)}"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps", f"torch {torch.__version__} on Apple MPS"
    return None, f"torch {torch.__version__} sees no CUDA or MPS device"


@lru_cache(maxsize=1)
def missing() -> str | None:
    """What the torch path lacks here (torch, a working onnx2torch), or None."""
    if importlib.util.find_spec("torch") is None:
        return "torch is not installed"
    if importlib.util.find_spec("onnx2torch") is None:
        return "onnx2torch is not installed (pip install onnx2torch)"
    try:
        import onnx2torch  # noqa: F401  (imports torchvision, which must match torch)
    except Exception as error:  # e.g. a torchvision built for another torch
        return f"onnx2torch cannot be imported ({str(error).splitlines()[0] if str(error) else type(error).__name__})"
    return None


def _arguments(values, skip: set[str]) -> list[Argument]:
    arguments = []
    for value in values:
        if value.name in skip:
            continue
        dims = [dim.dim_value if dim.HasField("dim_value") else (dim.dim_param or "?")
                for dim in value.type.tensor_type.shape.dim]
        kind = "tensor(int64)" if value.type.tensor_type.elem_type == onnx.TensorProto.INT64 else "tensor(float)"
        arguments.append(Argument(value.name, dims, kind))
    return arguments


class TorchSession:
    """An ONNX model converted by onnx2torch, on one torch device, run like an onnxruntime session."""

    def __init__(self, model: onnx.ModelProto, device: str, half: bool | None = None):
        import torch
        from onnx2torch import convert

        constants = {initializer.name for initializer in model.graph.initializer}
        self._inputs = _arguments(model.graph.input, constants)
        self._outputs = _arguments(model.graph.output, set())
        self.device = torch.device(device)
        self._module = convert(model).eval().to(self.device)
        self.half = False
        if half is None:
            half = self.device.type != "cpu" and self._half_agrees()
        if half:
            self._module.half()
            self.half = True

    def get_inputs(self) -> list[Argument]:
        return list(self._inputs)

    def get_outputs(self) -> list[Argument]:
        return list(self._outputs)

    def get_providers(self) -> list[str]:
        precision = "float16" if self.half else "float32"
        return [f"torch:{self.device.type} ({precision})"]

    def _forward(self, feeds: dict[str, np.ndarray], half: bool) -> list[np.ndarray]:
        import torch

        tensors = []
        for argument in self._inputs:
            tensor = torch.from_numpy(np.ascontiguousarray(feeds[argument.name])).to(self.device)
            if half and tensor.is_floating_point():
                tensor = tensor.half()
            tensors.append(tensor)
        with torch.inference_mode():
            result = self._module(*tensors)
        result = result if isinstance(result, (tuple, list)) else (result,)
        return [tensor.float().cpu().numpy() if tensor.is_floating_point() else tensor.cpu().numpy()
                for tensor in result]

    def run(self, output_names: list[str] | None, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Outputs (float32 numpy) named ``output_names`` (None: all, in graph order) for ``feeds``."""
        outputs = self._forward(feeds, self.half)
        if output_names is None:
            return outputs
        index = {argument.name: position for position, argument in enumerate(self._outputs)}
        return [outputs[index[name]] for name in output_names]

    def _half_agrees(self) -> bool:
        """True when float16 gives the float32 outputs within HALF_TOLERANCE on a random input."""
        rng = np.random.default_rng(0)
        feeds = {}
        for argument in self._inputs:
            shape = [dim if isinstance(dim, int) and dim > 0 else (1 if position == 0 else _CHECK_SIDE)
                     for position, dim in enumerate(argument.shape)]
            if argument.type == "tensor(int64)":
                return False
            feeds[argument.name] = rng.normal(0.0, 1.0, shape).astype(np.float32)
        reference = self._forward(feeds, False)
        self._module.half()
        try:
            halved = self._forward(feeds, True)
        finally:
            self._module.float()
        for full, half in zip(reference, halved):
            scale = max(float(np.abs(full).max()), 1e-6)
            if not np.isfinite(half).all() or float(np.abs(full - half).max()) / scale > HALF_TOLERANCE:
                return False
        return True
