"""A tiny stand-in for inswapper_128.onnx with the real model's exact signature.

Inputs ``target`` [1,3,128,128] float and ``source`` [1,512] float, one
[1,3,128,128] output, ``emap`` [512,512] as the LAST initializer. The output
is a checkable function of both inputs:

    output = 0.5 * target + 0.5 * sigmoid(source @ colour_weights)   (a colour per channel)

so a test can predict every output pixel from the aligned crop and the latent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def colour_of(latent: np.ndarray, colour_weights: np.ndarray) -> np.ndarray:
    """(3,) the colour the stand-in mixes in for a [1,512] latent."""
    return 1.0 / (1.0 + np.exp(-(latent @ colour_weights)[0]))


def build_inswapper(path: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """Write the stand-in to ``path``; returns its ``emap`` [512,512] and ``colour_weights`` [512,3]."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    generator = np.random.default_rng(seed)
    emap = generator.normal(0, 1, (512, 512)).astype(np.float32)
    colour_weights = generator.normal(0, 3, (512, 3)).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["source", "colour_weights"], ["colour_logits"]),  # [1,3]
        helper.make_node("Sigmoid", ["colour_logits"], ["colour"]),
        helper.make_node("Reshape", ["colour", "colour_shape"], ["colour_image"]),  # [1,3,1,1]
        helper.make_node("Mul", ["target", "half"], ["half_target"]),
        helper.make_node("Mul", ["colour_image", "half"], ["half_colour"]),
        helper.make_node("Add", ["half_target", "half_colour"], ["output"]),
    ]
    initializers = [
        numpy_helper.from_array(colour_weights, "colour_weights"),
        numpy_helper.from_array(np.array([1, 3, 1, 1], np.int64), "colour_shape"),
        numpy_helper.from_array(np.array(0.5, np.float32), "half"),
        numpy_helper.from_array(emap, "emap"),  # last, as in inswapper_128.onnx
    ]
    graph = helper.make_graph(
        nodes, "inswapper_stand_in",
        [helper.make_tensor_value_info("target", TensorProto.FLOAT, [1, 3, 128, 128]),
         helper.make_tensor_value_info("source", TensorProto.FLOAT, [1, 512])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 128, 128])],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return {"emap": emap, "colour_weights": colour_weights}


def install_inswapper(models_root: Path, monkeypatch, seed: int = 0) -> dict[str, np.ndarray]:
    """Build the stand-in where the registry looks ($PLAYALTER_MODELS_DIR/insightface/inswapper_128.onnx)."""
    from playalter.pipelines.core import config

    weights = build_inswapper(models_root / "insightface" / "inswapper_128.onnx", seed)
    monkeypatch.setenv("PLAYALTER_MODELS_DIR", str(models_root))
    config.reset_settings()
    return weights
