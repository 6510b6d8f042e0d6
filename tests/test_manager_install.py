"""A ComfyUI-Manager install, reproduced: a fresh ComfyUI environment, the pack cloned into custom_nodes/,
then the Manager's two steps (``pip install -r requirements.txt``, then ``python install.py``, each when
present). ComfyUI then starts and runs a privacy workflow and the dense-analysis workflow through /prompt.

Opt-in: it needs a ComfyUI checkout, which CI cannot fetch (no network beyond PyPI, and PyPI has no real
ComfyUI). Run it with ``PLAYALTER_COMFYUI_DIR=/path/to/ComfyUI`` (see docs/install.md); it builds its own
virtual environment in a temporary folder and leaves that checkout untouched. The MediaPipe models come from
this machine's models folder (``playalter models fetch face_mesh iris face_detection``), so nothing downloads
while ComfyUI runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from playalter.pipelines import models

from ports import free_port

REPO_ROOT = Path(__file__).resolve().parents[1]
API_DIR = REPO_ROOT / "workflows" / "api"
PACK_FOLDER = "ComfyUI-PlayAlter"
COMFYUI_DIR = os.environ.get("PLAYALTER_COMFYUI_DIR", "")
MEDIAPIPE_MODELS = ("face_mesh", "iris", "face_detection")
WORKFLOWS = ("privacy_blur.json", "face_analysis_dense.json")

pytestmark = [
    pytest.mark.skipif(not COMFYUI_DIR, reason="opt-in: set PLAYALTER_COMFYUI_DIR to a ComfyUI checkout "
                                               "(docs/install.md, 'Checking an install')"),
    pytest.mark.timeout(3600),
]

# Created at ComfyUI's root by its own runs: not part of a fresh checkout.
_COMFYUI_RUNTIME_FOLDERS = {".git", "custom_nodes", "input", "output", "temp", "user", "__pycache__", ".venv", "venv"}


def _run(command: list, cwd: Path | None = None, timeout: float = 1800) -> str:
    """Run a command, fail the test with its output when it fails, return stdout and stderr together."""
    result = subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True, text=True,
                            timeout=timeout)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(map(str, command))} failed ({result.returncode}):\n{output[-6000:]}"
    return output


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _torch_lines(python: Path) -> list[str]:
    freeze = _run([python, "-m", "pip", "freeze"])
    return sorted(line for line in freeze.splitlines() if line.lower().startswith(("torch==", "torch @")))


def _copy_comfyui(source: Path, target: Path) -> None:
    """ComfyUI's code and empty model folders, none of the source checkout's nodes, inputs or outputs."""
    def ignore(folder: str, names: list[str]) -> set[str]:
        ignored = {name for name in names if name == "__pycache__"}
        if Path(folder) == source:
            ignored |= _COMFYUI_RUNTIME_FOLDERS & set(names)
        if Path(folder) == source / "models":
            ignored.add("mediapipe")
        return ignored

    shutil.copytree(source, target, ignore=ignore, symlinks=True)
    (target / "custom_nodes").mkdir()
    for entry in (source / "custom_nodes").iterdir():  # ComfyUI's own examples; a linked pack is skipped
        if entry.is_file() and not entry.is_symlink():
            shutil.copy2(entry, target / "custom_nodes" / entry.name)
    (target / "input").mkdir()


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def _post(url: str, document: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(document).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise AssertionError(f"POST {url}: HTTP {error.code}: {error.read().decode(errors='replace')}") from None


class ComfyUI:
    """The installed ComfyUI: its Python, folders, server process, log, and what the install reported."""

    def __init__(self, root: Path, python: Path, torch_before: list[str], torch_after: list[str], pip_check: str):
        self.root, self.python = root, python
        self.torch_before, self.torch_after, self.pip_check = torch_before, torch_after, pip_check
        self.log_path = root.parent / "comfyui.log"
        self.url = ""
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        environ = {key: value for key, value in os.environ.items()
                   if not key.startswith("PLAYALTER") and key not in ("VIRTUAL_ENV", "PYTHONPATH")}
        environ["PLAYALTER_DATA_HOME"] = str(self.root.parent / "playalter-home")
        environ["PLAYALTER__MODELS__AUTO_FETCH"] = "false"  # the models it needs are in models/mediapipe
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen([str(self.python), "main.py", "--cpu", "--port", str(port)],
                                            cwd=self.root, env=environ, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"ComfyUI exited:\n{self.log()[-6000:]}"
            try:
                _get(self.url + "/system_stats")
                return
            except (OSError, ValueError):
                time.sleep(1)
        raise AssertionError(f"ComfyUI did not answer within 600 s:\n{self.log()[-6000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def run_workflow(self, prompt: dict, timeout: float = 900) -> dict:
        """POST /prompt, then poll /history until ComfyUI reports the prompt done; its history entry."""
        prompt_id = _post(self.url + "/prompt", {"prompt": prompt, "client_id": uuid.uuid4().hex})["prompt_id"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            entry = _get(f"{self.url}/history/{prompt_id}").get(prompt_id)
            if entry:  # ComfyUI files a prompt under /history once it has finished, with success or error
                return entry
            assert self.process.poll() is None, f"ComfyUI exited:\n{self.log()[-6000:]}"
            time.sleep(1)
        raise AssertionError(f"prompt {prompt_id} not done within {timeout} s:\n{self.log()[-6000:]}")


def _pack_tracebacks(log: str) -> list[str]:
    """The tracebacks in a ComfyUI log that pass through the pack (ComfyUI's own optional modules may fail)."""
    blocks, block = [], None
    for line in log.splitlines():
        if line.startswith("Traceback"):
            block = [line]
        elif block is not None:
            block.append(line)
            if line and not line[0].isspace():  # the exception line ends the block
                blocks.append("\n".join(block))
                block = None
    return [text for text in blocks if PACK_FOLDER in text or "playalter" in text.lower()]


def _manager_install(comfyui: Path, python: Path) -> None:
    """ComfyUI-Manager's steps for a git install: clone into custom_nodes/, then requirements.txt and install.py."""
    pack = comfyui / "custom_nodes" / PACK_FOLDER
    _run(["git", "clone", "--quiet", REPO_ROOT.as_uri(), pack])
    if (pack / "requirements.txt").is_file():
        _run([python, "-m", "pip", "install", "-r", "requirements.txt"], cwd=pack)
    if (pack / "install.py").is_file():
        _run([python, "install.py"], cwd=pack)


def _provide_inputs(comfyui: Path, t1_path: Path) -> None:
    """t1.jpg in input/, and the MediaPipe models in models/mediapipe/ (where the pack looks first in ComfyUI)."""
    shutil.copy2(t1_path, comfyui / "input" / "t1.jpg")
    target = comfyui / "models" / "mediapipe"
    target.mkdir(parents=True, exist_ok=True)
    for name in MEDIAPIPE_MODELS:
        for path in models.resolve(name):
            shutil.copy2(path, target / path.name)


@pytest.fixture(scope="module")
def comfyui(tmp_path_factory, t1_path):
    source = Path(COMFYUI_DIR).resolve()
    assert (source / "main.py").is_file() and (source / "requirements.txt").is_file(), \
        f"PLAYALTER_COMFYUI_DIR={COMFYUI_DIR} is not a ComfyUI checkout (no main.py / requirements.txt)"
    missing = [name for name in MEDIAPIPE_MODELS if not models.is_available(name)]
    if missing:
        pytest.skip(f"MediaPipe models absent: playalter models fetch {' '.join(missing)}")
    work = tmp_path_factory.mktemp("manager-install")
    root = work / "ComfyUI"
    _copy_comfyui(source, root)
    _run([sys.executable, "-m", "venv", work / "venv"])
    python = _venv_python(work / "venv")
    # ComfyUI's server imports requests without listing it (it used to come with huggingface-hub)
    _run([python, "-m", "pip", "install", "-r", "requirements.txt", "requests"], cwd=root)
    torch_before = _torch_lines(python)
    _manager_install(root, python)
    torch_after = _torch_lines(python)
    check = subprocess.run([str(python), "-m", "pip", "check"], capture_output=True, text=True)
    _provide_inputs(root, t1_path)
    installed = ComfyUI(root, python, torch_before, torch_after,
                        f"exit {check.returncode}: {(check.stdout + check.stderr).strip()}")
    try:
        installed.start()
        yield installed
    finally:
        installed.stop()


def test_install_leaves_torch_alone_and_pip_check_clean(comfyui):
    assert comfyui.torch_before and comfyui.torch_after == comfyui.torch_before
    assert comfyui.pip_check.startswith("exit 0"), comfyui.pip_check


def test_the_pack_imports_and_registers_its_nodes(comfyui):
    log = comfyui.log()
    failed = [line for line in log.splitlines() if "IMPORT FAILED" in line or "Cannot import" in line]
    assert not [line for line in failed if PACK_FOLDER in line], log[-6000:]
    assert not _pack_tracebacks(log), "\n\n".join(_pack_tracebacks(log))
    nodes = _get(comfyui.url + "/object_info")
    assert {"PlayAlterPrivacyDetect", "PlayAlterPrivacyMask", "PlayAlterFaceDetect", "PlayAlterFaceReport"} <= set(nodes)


@pytest.mark.parametrize("name", WORKFLOWS)
def test_workflow_runs_through_prompt(comfyui, name):
    prompt = json.loads((API_DIR / name).read_text())
    for node in prompt.values():
        if node["class_type"] == "LoadImage":
            node["inputs"]["image"] = "t1.jpg"
    entry = comfyui.run_workflow(prompt)
    assert entry["status"]["status_str"] == "success", json.dumps(entry["status"], indent=1)[-6000:]
    saved = [image for output in entry["outputs"].values() for image in output.get("images", [])]
    assert saved, entry["outputs"]
    assert not _pack_tracebacks(comfyui.log()), "\n\n".join(_pack_tracebacks(comfyui.log()))
