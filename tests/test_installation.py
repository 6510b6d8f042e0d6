"""The installation's facts: onnxruntime pairs warned about once with their fix, ``playalter doctor`` and
``--json``, and the same facts in ``/api/services/status``."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from playalter.pipelines.runtime import cuda_driver, installation as engine_installation, onnx_runtime, packages
from playalter.runner import installation
from playalter.runner.cli.main import main
from playalter.runner.server.response_schemas import INSTALLATION

from server_app_helpers import bearer, make_settings, running_app

FACT_KEYS = {"playalter", "packages", "onnxruntime_problem", "execution", "models", "comfyui", "extras"}


def fake_distributions(monkeypatch, installed: dict[str, str], nvidia_devices: int) -> None:
    """Pretend ``installed`` are the only distributions (with their versions) and the driver sees N GPUs."""
    monkeypatch.setattr(packages, "version", installed.get)
    monkeypatch.setattr(cuda_driver, "device_count", lambda: nvidia_devices)


@pytest.fixture(autouse=True)
def fresh_lookups():
    def clear():
        packages.problem.cache_clear()
        packages.warn_once.cache_clear()
        onnx_runtime.cuda_problem.cache_clear()
        onnx_runtime._log_cpu_once.cache_clear()
        onnx_runtime._log_path_once.cache_clear()

    clear()
    yield
    clear()


def warnings_of(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records
            if record.name == packages.__name__ and record.levelno == logging.WARNING]


def test_onnxruntime_beside_onnxruntime_gpu_is_warned_once_with_the_command(monkeypatch, caplog):
    fake_distributions(monkeypatch, {"onnxruntime": "1.20.0", "onnxruntime-gpu": "1.20.0", "numpy": "2.0"}, 1)
    monkeypatch.setattr(onnx_runtime, "available_providers", lambda: ["CPUExecutionProvider"])
    fix = (f"{sys.executable} -m pip uninstall -y onnxruntime onnxruntime-gpu && "
           f"{sys.executable} -m pip install onnxruntime-gpu")
    with caplog.at_level(logging.INFO):
        paths = [onnx_runtime.execution_path() for _ in range(3)]
    [warning] = warnings_of(caplog)
    assert "onnxruntime and onnxruntime-gpu are installed together" in warning and warning.endswith(fix)
    assert all(fix in path.reason for path in paths)
    assert paths[0].reason.startswith("the installed onnxruntime has no CUDA provider")
    assert packages.problem().to_dict() == {"message": packages.problem().message, "fix": fix}


def test_a_pair_without_an_nvidia_gpu_keeps_the_build_chosen_for_other_hardware(monkeypatch):
    fake_distributions(monkeypatch, {"onnxruntime": "1.20.0", "onnxruntime-directml": "1.20.0"}, 0)
    assert packages.problem().fix.endswith("-m pip install onnxruntime-directml")
    packages.problem.cache_clear()
    fake_distributions(monkeypatch, {"onnxruntime": "1.20.0", "onnxruntime-gpu": "1.20.0"}, 0)
    assert packages.problem().fix.endswith("-m pip install onnxruntime")


def test_cpu_only_onnxruntime_beside_an_nvidia_gpu_is_warned(monkeypatch, caplog):
    fake_distributions(monkeypatch, {"onnxruntime": "1.20.0"}, 2)
    monkeypatch.setattr(onnx_runtime, "available_providers", lambda: ["CPUExecutionProvider"])
    with caplog.at_level(logging.INFO):
        onnx_runtime.execution_path()
        onnx_runtime.execution_path()
    [warning] = warnings_of(caplog)
    assert "CPU-only onnxruntime is installed on a machine with an NVIDIA GPU" in warning
    assert warning.endswith("-m pip uninstall -y onnxruntime && "
                            f"{sys.executable} -m pip install onnxruntime-gpu")


@pytest.mark.parametrize("installed, nvidia", [({"onnxruntime-gpu": "1.20.0"}, 1), ({"onnxruntime": "1.20.0"}, 0)])
def test_one_fitting_build_is_not_warned_about(monkeypatch, caplog, installed, nvidia):
    fake_distributions(monkeypatch, installed, nvidia)
    monkeypatch.setattr(onnx_runtime, "available_providers", lambda: ["CPUExecutionProvider"])
    with caplog.at_level(logging.INFO):
        path = onnx_runtime.execution_path()
    assert packages.problem() is None and warnings_of(caplog) == []
    assert "pip" not in path.reason


def test_an_interpreter_path_with_spaces_is_quoted(monkeypatch):
    monkeypatch.setattr(sys, "executable", r"C:\ComfyUI portable\python_embeded\python.exe")
    assert packages.fix_command(["onnxruntime"], "onnxruntime-gpu") == (
        r'"C:\ComfyUI portable\python_embeded\python.exe" -m pip uninstall -y onnxruntime && '
        r'"C:\ComfyUI portable\python_embeded\python.exe" -m pip install onnxruntime-gpu')


def test_comfyui_folders_are_found_from_where_the_pack_sits(tmp_path):
    root = tmp_path / "ComfyUI"
    pack = root / "custom_nodes" / "playalter"
    pack.mkdir(parents=True)
    (root / "models").mkdir()
    found = engine_installation.comfyui_folders(pack)
    assert found["root"] == str(root) and found["models"] == {"path": str(root / "models"), "exists": True}
    assert found["output"] == {"path": str(root / "output"), "exists": False}
    assert engine_installation.comfyui_folders(tmp_path / "elsewhere")["root"] is None


def test_doctor_prints_the_picture_and_exits_0(monkeypatch, capsys):
    fake_distributions(monkeypatch, {"onnxruntime": "1.20.0", "onnxruntime-gpu": "1.20.0", "torch": "2.5.0"}, 1)
    monkeypatch.setattr(onnx_runtime, "available_providers", lambda: ["CPUExecutionProvider"])
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    for expected in ("playalter    ", "torch        2.5.0", "onnxruntime  onnxruntime 1.20.0, onnxruntime-gpu 1.20.0",
                     "  fix:     ", "models run on: ", "models present: ", "models are searched in:",
                     "ComfyUI", "extra server: ", "extra scale: "):
        assert expected in out, expected


def test_doctor_gives_the_command_for_a_missing_extra(monkeypatch, capsys):
    monkeypatch.setitem(installation.EXTRAS, "scale", ("psycopg", "no_such_module_for_the_test"))
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "extra server: installed" in out
    assert "extra scale:  not installed (missing: no_such_module_for_the_test)" in out
    assert f"    install it: {sys.executable} -m pip install" in out


def test_doctor_json_has_every_fact(capsys):
    assert main(["doctor", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert set(facts) == FACT_KEYS
    assert set(facts["packages"]) == {"python", "torch", "numpy", "opencv", "onnxruntime"}
    assert facts["execution"] == onnx_runtime.execution_path().to_dict()
    assert set(facts["extras"]) == {"server", "scale", "identity"} and facts["extras"]["server"]["installed"] is True
    assert facts["comfyui"]["pack"] == str(Path(installation.__file__).absolute().parents[1])
    Draft202012Validator(INSTALLATION).validate(facts)


def test_services_status_carries_the_same_facts(tmp_path):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            return await (await client.get("/api/services/status", headers=bearer(key))).json()

    status = asyncio.run(scenario())
    assert status["installation"] == installation.facts()
    assert status["installation"]["execution"] == status["execution"]
    Draft202012Validator(INSTALLATION).validate(status["installation"])
