"""Tiny stand-ins for the face restoration ONNX models, with each real model's signature.

Input ``input`` [1,3,S,S] float (S = 512, or 1024 for GPEN-BFR 1024), CodeFormer also ``weight`` [1] double,
one output ``output`` [1,3,S,S]. The output is a checkable function of the inputs:

    output = scale * input + shift                 (scale * weight for CodeFormer)

so scale 1, shift 0 (and weight 1) returns the crop unchanged: the normalisation round trip.
"""

from __future__ import annotations

from pathlib import Path

FILES = {  # facefusion's file names
    "gfpgan_1.4": "gfpgan_1.4.onnx",
    "codeformer": "codeformer.onnx",
    "gpen_bfr_512": "gpen_bfr_512.onnx",
    "gpen_bfr_1024": "gpen_bfr_1024.onnx",
    "restoreformer_plus_plus": "restoreformer_plus_plus.onnx",
}


def build_restorer(path: Path, name: str, scale: float = 1.0, shift: float = 0.0) -> Path:
    """Write the stand-in of model ``name`` to ``path``."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from onnx_models import checked_model

    size = 1024 if name == "gpen_bfr_1024" else 512
    inputs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])]
    nodes = []
    gain = "scale"
    if name == "codeformer":
        inputs.append(helper.make_tensor_value_info("weight", TensorProto.DOUBLE, [1]))
        nodes += [helper.make_node("Cast", ["weight"], ["weight_float"], to=TensorProto.FLOAT),  # [1]
                  helper.make_node("Mul", ["weight_float", "scale"], ["weighted_scale"])]
        gain = "weighted_scale"
    nodes += [helper.make_node("Mul", ["input", gain], ["scaled"]),
              helper.make_node("Add", ["scaled", "shift"], ["output"])]
    graph = helper.make_graph(
        nodes, f"{name}_stand_in", inputs,
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, size, size])],
        initializer=[numpy_helper.from_array(np.array(scale, np.float32), "scale"),
                     numpy_helper.from_array(np.array(shift, np.float32), "shift")],
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(checked_model(graph), str(path))
    return path


def install_restorer(models_root: Path, monkeypatch, name: str, scale: float = 1.0, shift: float = 0.0) -> Path:
    """Build the stand-in where the registry looks: $PLAYALTER_MODELS_DIR/facerestore_models/<facefusion name>."""
    from playalter.pipelines.core import config

    path = build_restorer(models_root / "facerestore_models" / FILES[name], name, scale, shift)
    monkeypatch.setenv("PLAYALTER_MODELS_DIR", str(models_root))
    config.reset_settings()
    return path
