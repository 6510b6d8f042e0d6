"""One restoration model: find and load its ONNX file, check its signature, run it on an aligned crop."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ... import models
from ...core.errors import ModelCorruptError
from ...runtime import onnx_runtime
from .contracts import Restorer, restorer

FEATURE = "face restoration"
WEIGHT_INPUT = "weight"  # CodeFormer's fidelity input


@dataclass(frozen=True)
class Network:
    restorer: Restorer
    session: object  # onnxruntime.InferenceSession (cached by onnx_runtime)
    image_input: str
    weight_input: str | None
    output: str
    path: str


def model_path(name: str) -> Path:
    """The model's file in facerestore_models/ (ComfyUI's folder, then ours), or ModelMissingError naming
    every path searched and how to obtain it."""
    return models.resolve(restorer(name).name, f"{FEATURE} ({restorer(name).title})")[0]


def load(name: str, path: str | Path | None = None, device: str = "auto") -> Network:
    """Model ``name`` from ``path`` (default: the registry's file), its signature checked against its contract."""
    contract = restorer(name)
    path = Path(path) if path is not None else model_path(name)
    session = onnx_runtime.session(path, device=device)
    inputs = {item.name: item for item in session.get_inputs()}
    images = [name for name in inputs if name != WEIGHT_INPUT]
    outputs = session.get_outputs()
    if len(images) != 1 or len(outputs) != 1:
        raise ModelCorruptError(
            f"{path} does not look like {contract.title}: inputs {sorted(inputs)}, {len(outputs)} outputs; "
            "expected one image input (and 'weight' for CodeFormer) and one output")
    if contract.has_weight and WEIGHT_INPUT not in inputs:
        raise ModelCorruptError(f"{path} does not look like {contract.title}: it has no '{WEIGHT_INPUT}' input")
    side = inputs[images[0]].shape[-1]  # [1,3,S,S]; a dynamic side is a name, not a number
    if isinstance(side, int) and side != contract.size:
        raise ModelCorruptError(
            f"{path} takes {side} x {side} px crops, but {contract.title} takes {contract.size} px: "
            "it is another model; put the right file in facerestore_models/")
    weight = WEIGHT_INPUT if WEIGHT_INPUT in inputs else None
    return Network(contract, session, images[0], weight, outputs[0].name, str(path))


def to_blob(crop: np.ndarray) -> np.ndarray:
    """[1,3,S,S] float32 RGB in -1..1 from an aligned uint8 RGB crop [S,S,3]."""
    return (crop.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None]


def from_blob(blob: np.ndarray) -> np.ndarray:
    """[S,S,3] uint8 RGB from a model output [1,3,S,S] in -1..1 (values outside are clipped)."""
    values = (np.clip(blob[0], -1.0, 1.0) + 1.0) * 127.5  # [3,S,S]
    return np.clip(np.rint(values.transpose(1, 2, 0)), 0, 255).astype(np.uint8)


def run(network: Network, crop: np.ndarray, fidelity: float = 0.5) -> np.ndarray:
    """The restored crop [S,S,3] uint8 RGB of an aligned crop [S,S,3]; ``fidelity`` feeds CodeFormer's ``w``."""
    feeds = {network.image_input: to_blob(crop)}
    if network.weight_input is not None:
        feeds[network.weight_input] = np.array([fidelity], np.float64)  # [1] double, as CodeFormer's export takes
    return from_blob(network.session.run([network.output], feeds)[0])
