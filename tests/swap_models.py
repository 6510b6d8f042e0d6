"""Tiny stand-ins for the swap models, with the real models' exact signatures.

InSwapper 128 (``inswapper_128.onnx``): inputs ``target`` [1,3,128,128] and ``source`` [1,512], one
[1,3,128,128] output, ``emap`` [512,512] as the LAST initializer. ReSwapper 256 likewise at 256.
HyperSwap (``hyperswap_1a_256.onnx`` etc.): inputs ``source`` [1,512] and ``target`` [1,3,256,256],
outputs ``output`` [1,3,256,256] and ``mask`` [1,1,256,256], no emap.

The output is a checkable function of both inputs, in the model's own value range:

    output = (1 - mix) * target + mix * colour(source)     colour = sigmoid(source @ colour_weights)
                                                            (2 * sigmoid - 1 for the -1..1 models)

so a test can predict every output pixel from the aligned crop and the identity input; with mix 0 the
model gives its input crop back unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from playalter.pipelines.engine import align, recognition


def colour_of(latent: np.ndarray, colour_weights: np.ndarray) -> np.ndarray:
    """(3,) the colour the stand-in mixes in for a [1,512] identity input, in 0..1."""
    return 1.0 / (1.0 + np.exp(-(latent @ colour_weights)[0]))


def build_swapper(path: Path, size: int = 128, signed: bool = False, emap: bool = True, mask: bool = False,
                  mix: float = 0.5, seed: int = 0) -> dict[str, np.ndarray]:
    """Write a stand-in to ``path``; returns its ``emap`` [512,512] (when it has one) and ``colour_weights``
    [512,3]. ``signed``: pixels in -1..1 in and out; ``mask``: a second output ``mask`` [1,1,s,s]."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from onnx_models import checked_model

    generator = np.random.default_rng(seed)
    emap_values = generator.normal(0, 1, (512, 512)).astype(np.float32) if emap else None
    colour_weights = generator.normal(0, 3, (512, 3)).astype(np.float32)
    colour = ["colour"]
    nodes = [
        helper.make_node("MatMul", ["source", "colour_weights"], ["colour_logits"]),  # [1,3]
        helper.make_node("Sigmoid", ["colour_logits"], colour),
    ]
    if signed:
        nodes += [helper.make_node("Mul", ["colour", "two"], ["twice"]),
                  helper.make_node("Sub", ["twice", "one"], ["signed_colour"])]
        colour = ["signed_colour"]
    nodes += [
        helper.make_node("Reshape", [colour[0], "colour_shape"], ["colour_image"]),  # [1,3,1,1]
        helper.make_node("Mul", ["target", "keep"], ["kept_target"]),
        helper.make_node("Mul", ["colour_image", "mix"], ["mixed_colour"]),
        helper.make_node("Add", ["kept_target", "mixed_colour"], ["output"]),
    ]
    outputs = [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, size, size])]
    if mask:
        nodes.append(helper.make_node("ReduceMean", ["target"], ["mask"], axes=[1], keepdims=1))
        outputs.append(helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 1, size, size]))
    initializers = [
        numpy_helper.from_array(colour_weights, "colour_weights"),
        numpy_helper.from_array(np.array([1, 3, 1, 1], np.int64), "colour_shape"),
        numpy_helper.from_array(np.array(1.0 - mix, np.float32), "keep"),
        numpy_helper.from_array(np.array(mix, np.float32), "mix"),
        numpy_helper.from_array(np.array(2.0, np.float32), "two"),
        numpy_helper.from_array(np.array(1.0, np.float32), "one"),
    ]
    if emap:
        initializers.append(numpy_helper.from_array(emap_values, "emap"))  # last, as in inswapper_128.onnx
    inputs = [helper.make_tensor_value_info("target", TensorProto.FLOAT, [1, 3, size, size]),
              helper.make_tensor_value_info("source", TensorProto.FLOAT, [1, 512])]
    graph = helper.make_graph(nodes, "swapper_stand_in", inputs if emap else inputs[::-1], outputs,
                              initializer=initializers)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(checked_model(graph), str(path))
    return {"emap": emap_values, "colour_weights": colour_weights}


def build_inswapper(path: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """The inswapper_128.onnx stand-in: output = 0.5 * target + 0.5 * colour(source)."""
    return build_swapper(path, seed=seed)


# name -> (folder kind, builder arguments): each swap model's stand-in, where the registry looks for it
STAND_INS = {
    "inswapper_128": ("insightface", {}),
    "reswapper_256": ("reswapper", {"size": 256}),
    **{f"hyperswap_1{letter}_256": ("hyperswap", {"size": 256, "signed": True, "emap": False, "mask": True})
       for letter in "abc"},
}


def install_swapper(models_root: Path, monkeypatch, name: str = "inswapper_128", mix: float = 0.5,
                    seed: int = 0) -> dict[str, np.ndarray]:
    """Build the stand-in of model ``name`` where the registry looks ($PLAYALTER_MODELS_DIR/<folder>/<name>.onnx)."""
    from playalter.pipelines.core import config

    folder, arguments = STAND_INS[name]
    weights = build_swapper(models_root / folder / f"{name}.onnx", mix=mix, seed=seed, **arguments)
    monkeypatch.setenv("PLAYALTER_MODELS_DIR", str(models_root))
    config.reset_settings()
    return weights


def install_inswapper(models_root: Path, monkeypatch, seed: int = 0) -> dict[str, np.ndarray]:
    """Build the inswapper_128 stand-in where the registry looks ($PLAYALTER_MODELS_DIR/insightface/)."""
    return install_swapper(models_root, monkeypatch, seed=seed)


def stand_in_arcface(monkeypatch) -> None:
    """recognition.embed as a fixed random projection of the aligned crop (no buffalo_l here)."""
    projection = np.random.default_rng(11).normal(size=(32 * 32 * 3, 512)).astype(np.float32)

    def embed(image, face, device="auto"):
        crop, _ = align.crop(image, face.kps, 32)  # [32,32,3]
        vector = (crop.astype(np.float32).ravel() / 255.0 - 0.5) @ projection
        return vector / np.linalg.norm(vector)

    monkeypatch.setattr(recognition, "is_available", lambda: True)
    monkeypatch.setattr(recognition, "embed", embed)
