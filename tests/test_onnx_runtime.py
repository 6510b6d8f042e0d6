"""Provider choice: CUDA only when it really loads; otherwise CPU with one log line and no error spam."""

from __future__ import annotations

import logging

import pytest
from onnx import TensorProto, helper

from playalter.pipelines.runtime import cuda_driver, onnx_runtime
from playalter.pipelines.core.errors import InvalidParameterError, ModelCorruptError


def identity_model() -> bytes:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "identity",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model.SerializeToString()


@pytest.fixture(autouse=True)
def fresh_probe():
    onnx_runtime.cuda_problem.cache_clear()
    onnx_runtime._log_cpu_once.cache_clear()
    onnx_runtime.clear_cache()
    yield
    onnx_runtime.cuda_problem.cache_clear()
    onnx_runtime._log_cpu_once.cache_clear()
    onnx_runtime.clear_cache()


def test_listed_but_unusable_cuda_falls_back_to_cpu_with_one_log_line(monkeypatch, caplog):
    monkeypatch.setattr(onnx_runtime, "available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(cuda_driver, "device_count", lambda: 0)
    with caplog.at_level(logging.INFO, logger=onnx_runtime.__name__):
        for _ in range(3):
            assert onnx_runtime.choose_providers("auto") == ("CPUExecutionProvider",)
    lines = [record.getMessage() for record in caplog.records]
    assert lines == ["onnxruntime: using the CPU (no CUDA device or NVIDIA driver found)"]


def test_cuda_is_chosen_when_device_and_provider_library_work(monkeypatch):
    monkeypatch.setattr(onnx_runtime, "available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(cuda_driver, "device_count", lambda: 1)
    monkeypatch.setattr(onnx_runtime.ctypes, "CDLL", lambda *args, **kwargs: object())
    assert onnx_runtime.choose_providers("auto") == ("CUDAExecutionProvider", "CPUExecutionProvider")
    assert onnx_runtime.choose_providers("cpu") == ("CPUExecutionProvider",)


def test_explicit_cuda_without_cuda_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(onnx_runtime, "available_providers", lambda: ["CPUExecutionProvider"])
    with pytest.raises(InvalidParameterError, match="'cuda' was requested .* has no CUDA provider"):
        onnx_runtime.choose_providers("cuda")
    with pytest.raises(InvalidParameterError, match="unknown device 'gpu'"):
        onnx_runtime.choose_providers("gpu")


def test_real_session_on_this_machine_is_quiet(capfd):
    """With the installed onnxruntime(-gpu) on whatever machine runs the tests: no stderr noise."""
    created = onnx_runtime.session(identity_model())
    expected = ["CPUExecutionProvider"] if onnx_runtime.cuda_problem() else ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert created.get_providers() == expected
    assert onnx_runtime.session(identity_model()) is created  # cached
    foreign = [line for line in capfd.readouterr().err.splitlines() if "playalter.pipelines.runtime.onnx_runtime" not in line]
    assert foreign == []  # our own log line may be there (when a test configured logging); nothing else


def test_unloadable_model_file_names_the_file(tmp_path):
    path = tmp_path / "det_10g.onnx"
    path.write_bytes(b"this is not an onnx model")
    with pytest.raises(ModelCorruptError, match=r"cannot load .*det_10g\.onnx.*playalter models"):
        onnx_runtime.session(path)


def test_models_command_says_where_models_run_and_why(monkeypatch, capsys):
    from playalter.runner.cli.main import main

    monkeypatch.setattr(onnx_runtime, "available_providers", lambda: ["CPUExecutionProvider"])
    assert main(["models", "--quick"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("models run on: onnxruntime-cpu (the installed onnxruntime has no CUDA provider")


def test_torch_path_is_taken_when_onnxruntime_cannot_use_cuda_but_torch_can(monkeypatch, caplog):
    from playalter.pipelines.runtime import torch_runtime

    monkeypatch.setattr(onnx_runtime, "available_providers", lambda: ["CPUExecutionProvider"])
    monkeypatch.setattr(torch_runtime, "accelerator", lambda: ("cuda", "torch 2.x on NVIDIA Test GPU"))
    onnx_runtime._log_path_once.cache_clear()
    with caplog.at_level(logging.INFO, logger=onnx_runtime.__name__):
        path = onnx_runtime.execution_path("auto")
        assert onnx_runtime.execution_path("cuda") == path
    assert (path.runtime, path.torch_device, path.name) == ("torch", "cuda", "torch-cuda")
    assert [record.getMessage() for record in caplog.records] == [
        "models run on torch-cuda: onnxruntime cannot use CUDA (the installed onnxruntime has no CUDA provider); "
        "torch 2.x on NVIDIA Test GPU"]
    assert onnx_runtime.execution_path("cpu").name == "onnxruntime-cpu"
    onnx_runtime._log_path_once.cache_clear()
