"""Tiny stand-ins for the insightface buffalo_l models, built with ``onnx.helper``.

They carry the real files' input/output names and shapes (checked against insightface's
model_zoo code and published deployments of det_10g / w600k_r50):

  det_10g.onnx     "input.1" [1,3,H,W] -> 9 outputs in this order:
                   scores "448","471","494" [N_s,1]; bboxes "451","474","497" [N_s,4];
                   kps "454","477","500" [N_s,10]  for strides 8, 16, 32, 2 anchors per cell
  2d106det.onnx    "data" [1,3,192,192] -> "fc1" [1,212]
  1k3d68.onnx      "data" [1,3,192,192] -> "fc1" [1,3309]
  genderage.onnx   "data" [1,3,96,96]   -> "fc1" [1,3]
  w600k_r50.onnx   "input.1" [1,3,112,112] -> "683" [1,512]

What they compute is designed to be checkable, not to find faces:
  detector   the score of a cell at stride 8 / 16 / 32 is the mean of the R / G / B channel
             over that cell, mapped to 0..1; box distances and keypoint offsets are constants.
             A pure blue square covering exactly one 32x32 cell is one face at stride 32.
  landmarks  constant points (``LANDMARKS_106``, ``LANDMARKS_68_3D``) in -1..1 crop units.
  genderage  the mean R, G, B of its crop / 255 (its first node is ``bn_data``, so it is fed raw
             pixels, as insightface does for converted MXNet models): sex = "M" when G > R,
             age = round(100 * mean B / 255).
  arcface    a fixed linear map (``ARCFACE_WEIGHTS``) of the 16x16-average-pooled crop,
             normalised (pixel - 127.5) / 127.5.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from playalter.pipelines.engine.pose import IBUG_POSE_INDICES, SIX_POINT_MODEL

OPSET = 13
STRIDES = (8, 16, 32)
DET_OUTPUTS = ("448", "471", "494", "451", "474", "497", "454", "477", "500")
BOX_DISTANCE = 2.0  # l, t, r, b in strides
KPS_OFFSETS = np.array([[-0.6, -0.4], [0.6, -0.4], [0.0, 0.1], [-0.5, 0.6], [0.5, 0.6]], np.float32)  # strides

_rng = np.random.default_rng(1234)
LANDMARKS_106 = np.stack(
    [np.linspace(-0.5, 0.5, 106), 0.4 * np.sin(np.linspace(0, 2 * np.pi, 106))], axis=1
).astype(np.float32)  # [106,2] crop units
LANDMARKS_68_3D = _rng.uniform(-0.3, 0.3, (68, 3)).astype(np.float32)  # [68,3] crop units
# The six points the pose uses form a frontal generic face (mm -> crop units): pose ~ (0, 0, 0).
LANDMARKS_68_3D[list(IBUG_POSE_INDICES)] = (SIX_POINT_MODEL * [1, 1, -1] / 200.0).astype(np.float32)
ARCFACE_POOL = 16
ARCFACE_WEIGHTS = _rng.normal(0, 1, (3 * 7 * 7, 512)).astype(np.float32)  # [147,512]


def _const(name: str, value) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value, dtype=np.float32), name)


def _int_const(name: str, value) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value, dtype=np.int64), name)


def checked_model(graph: onnx.GraphProto) -> onnx.ModelProto:
    """A stand-in's graph as an opset-13, IR version 8 model, checked by onnx."""
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _model(nodes, inputs, outputs, initializers) -> onnx.ModelProto:
    return checked_model(helper.make_graph(nodes, "tiny", inputs, outputs, initializers))


def scrfd() -> onnx.ModelProto:
    nodes = []
    inits = [_const("one", 1.0), _const("half", 0.5), _int_const("anchor_shape", [-1, 1]), _int_const("axis1", [1])]
    for index, stride in enumerate(STRIDES):
        score, bbox, kps = DET_OUTPUTS[index], DET_OUTPUTS[index + 3], DET_OUTPUTS[index + 6]
        inits += [
            _int_const(f"c{index}_start", [index]), _int_const(f"c{index}_end", [index + 1]),
            _const(f"zeros4_{stride}", np.zeros((1, 4))), _const(f"box_{stride}", np.full(4, BOX_DISTANCE)),
            _const(f"zeros10_{stride}", np.zeros((1, 10))), _const(f"kps_{stride}", KPS_OFFSETS.reshape(10)),
        ]
        nodes += [
            helper.make_node("Slice", ["input.1", f"c{index}_start", f"c{index}_end", "axis1"], [f"channel_{stride}"]),
            helper.make_node("AveragePool", [f"channel_{stride}"], [f"pooled_{stride}"],
                             kernel_shape=[stride, stride], strides=[stride, stride]),
            helper.make_node("Add", [f"pooled_{stride}", "one"], [f"shifted_{stride}"]),
            helper.make_node("Mul", [f"shifted_{stride}", "half"], [f"prob_{stride}"]),  # [1,1,h,w]
            helper.make_node("Concat", [f"prob_{stride}", f"prob_{stride}"], [f"anchors_{stride}"], axis=1),
            helper.make_node("Transpose", [f"anchors_{stride}"], [f"cells_{stride}"], perm=[0, 2, 3, 1]),
            helper.make_node("Reshape", [f"cells_{stride}", "anchor_shape"], [score]),  # [h*w*2,1]
            helper.make_node("Mul", [score, f"zeros4_{stride}"], [f"zero_box_{stride}"]),
            helper.make_node("Add", [f"zero_box_{stride}", f"box_{stride}"], [bbox]),  # [N,4]
            helper.make_node("Mul", [score, f"zeros10_{stride}"], [f"zero_kps_{stride}"]),
            helper.make_node("Add", [f"zero_kps_{stride}", f"kps_{stride}"], [kps]),  # [N,10]
        ]
    inputs = [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, "?", "?"])]
    widths = {0: 1, 1: 4, 2: 10}
    outputs = [
        helper.make_tensor_value_info(name, TensorProto.FLOAT, [f"n{position % 3}", widths[position // 3]])
        for position, name in enumerate(DET_OUTPUTS)
    ]
    return _model(nodes, inputs, outputs, inits)


def _constant_head(input_name: str, size: int, output_name: str, values: np.ndarray) -> onnx.ModelProto:
    """[1,3,size,size] -> [1,K] constant ``values`` (the input is reduced and multiplied by 0)."""
    nodes = [
        helper.make_node("Identity", [input_name], ["bn_data_out"], name="bn_data"),
        helper.make_node("ReduceMean", ["bn_data_out"], ["mean"], axes=[1, 2, 3], keepdims=0),  # [1]
        helper.make_node("Unsqueeze", ["mean", "axis1"], ["mean_2d"]),  # [1,1]
        helper.make_node("Mul", ["mean_2d", "zeros"], ["zero_row"]),  # [1,K]
        helper.make_node("Add", ["zero_row", "values"], [output_name]),
    ]
    inits = [_int_const("axis1", [1]), _const("zeros", np.zeros((1, values.size))),
             _const("values", values.reshape(1, -1))]
    inputs = [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [1, 3, size, size])]
    outputs = [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, [1, values.size])]
    return _model(nodes, inputs, outputs, inits)


def landmark_106() -> onnx.ModelProto:
    return _constant_head("data", 192, "fc1", LANDMARKS_106)


def landmark_3d_68() -> onnx.ModelProto:
    values = np.zeros((1103, 3), np.float32)
    values[-68:] = LANDMARKS_68_3D
    return _constant_head("data", 192, "fc1", values)


def genderage() -> onnx.ModelProto:
    nodes = [
        helper.make_node("Identity", ["data"], ["bn_data_out"], name="bn_data"),
        helper.make_node("ReduceMean", ["bn_data_out"], ["channel_means"], axes=[2, 3], keepdims=0),  # [1,3]
        helper.make_node("Mul", ["channel_means", "inv255"], ["fc1"]),
    ]
    inputs = [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, 96, 96])]
    outputs = [helper.make_tensor_value_info("fc1", TensorProto.FLOAT, [1, 3])]
    return _model(nodes, inputs, outputs, [_const("inv255", 1.0 / 255.0)])


def arcface() -> onnx.ModelProto:
    nodes = [
        helper.make_node("AveragePool", ["input.1"], ["pooled"], kernel_shape=[ARCFACE_POOL] * 2,
                         strides=[ARCFACE_POOL] * 2),  # [1,3,7,7]
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),  # [1,147]
        helper.make_node("MatMul", ["flat", "weights"], ["683"]),  # [1,512]
    ]
    inputs = [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, 112, 112])]
    outputs = [helper.make_tensor_value_info("683", TensorProto.FLOAT, [1, 512])]
    return _model(nodes, inputs, outputs, [_const("weights", ARCFACE_WEIGHTS)])


def arcface_reference(crop_rgb: np.ndarray) -> np.ndarray:
    """What ``arcface()`` computes for an aligned uint8 RGB crop [112,112,3], L2-normalised (512,)."""
    blob = (crop_rgb.astype(np.float32) - 127.5) / 127.5  # [112,112,3]
    pooled = blob.reshape(7, ARCFACE_POOL, 7, ARCFACE_POOL, 3).mean(axis=(1, 3))  # [7,7,3]
    raw = pooled.transpose(2, 0, 1).reshape(-1) @ ARCFACE_WEIGHTS  # [512]
    return raw / np.linalg.norm(raw)


BUFFALO_L = {
    "det_10g.onnx": scrfd,
    "2d106det.onnx": landmark_106,
    "1k3d68.onnx": landmark_3d_68,
    "genderage.onnx": genderage,
    "w600k_r50.onnx": arcface,
}


def use_models_dir(monkeypatch, root: Path) -> None:
    """Point model lookup at ``root`` only (also as the working directory, so ./models is inside it)
    and forget cached settings and sessions."""
    from playalter.pipelines.core import config
    from playalter.pipelines.runtime import onnx_runtime

    monkeypatch.setenv("PLAYALTER_MODELS_DIR", str(root))
    monkeypatch.chdir(root)
    config.reset_settings()
    onnx_runtime.clear_cache()


def write_buffalo_l(models_root: Path, skip: tuple[str, ...] = ()) -> Path:
    """Write the five tiny models where ``models.resolve("buffalo_l")`` looks under ``models_root``."""
    folder = models_root / "insightface" / "models" / "buffalo_l"
    folder.mkdir(parents=True, exist_ok=True)
    for name, build in BUFFALO_L.items():
        if name not in skip:
            onnx.save(build(), str(folder / name))
    return folder
