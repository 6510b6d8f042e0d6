"""Ready for the Comfy Registry: comfy-cli's ``comfy node validate`` passes without a warning, its parser reads
the pack's metadata from pyproject.toml, and the archive ``comfy node publish`` would upload (git-tracked files
minus ``.comfyignore``) holds what ComfyUI loads and no tests, benches, tools or doc images.

comfy-cli is installed from PyPI into a virtual environment of its own (it pins its own typer, rich and ruff);
the tests skip only when that install fails (no network to PyPI).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())

pytestmark = pytest.mark.timeout(900)

# comfy-cli's own reading of pyproject.toml, as `comfy node validate` and `publish` do
_READ_CONFIG = """
import json
from comfy_cli.registry.config_parser import extract_node_configuration
config = extract_node_configuration()
project, comfy = config.project, config.tool_comfy
print(json.dumps({
    "name": project.name, "version": project.version, "license": project.license.text,
    "repository": project.urls.repository, "supported_os": project.supported_os,
    "accelerators": project.supported_accelerators, "publisher_id": comfy.publisher_id,
    "display_name": comfy.display_name, "icon": comfy.icon,
}))
"""
_PACK = "import sys\nfrom comfy_cli.file_utils import zip_files\nzip_files(sys.argv[1])"


@pytest.fixture(scope="module")
def comfy_cli(tmp_path_factory) -> dict:
    """The comfy-cli environment: its python and comfy commands, and a HOME for its settings."""
    folder = tmp_path_factory.mktemp("comfy-cli")
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
    binaries = venv / ("Scripts" if os.name == "nt" else "bin")
    install = subprocess.run([str(binaries / "python"), "-m", "pip", "install", "--quiet", "comfy-cli"],
                             capture_output=True, text=True, timeout=600)
    if install.returncode != 0:
        pytest.skip(f"comfy-cli cannot be installed: {(install.stdout + install.stderr).strip()[-500:]}")
    (folder / "home").mkdir()
    environ = {key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV", "PYTHONPATH")}
    return {"python": binaries / "python", "comfy": binaries / "comfy",
            "environ": {**environ, "HOME": str(folder / "home")}}


def _run(comfy_cli: dict, *command) -> subprocess.CompletedProcess:
    return subprocess.run([str(part) for part in command], cwd=REPO, env=comfy_cli["environ"], capture_output=True,
                          text=True, timeout=300)


def test_comfy_node_validate_passes_without_a_warning(comfy_cli):
    result = _run(comfy_cli, comfy_cli["comfy"], "--skip-prompt", "--no-enable-telemetry", "node", "validate")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "All validation checks passed" in output and "Warning" not in output, output


def test_comfy_cli_reads_the_registry_metadata(comfy_cli):
    result = _run(comfy_cli, comfy_cli["python"], "-c", _READ_CONFIG)
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stdout.splitlines()[:-1], result.stdout
    config = json.loads(result.stdout.splitlines()[-1])
    assert config["name"] == "playalter" and config["version"] == PYPROJECT["project"]["version"]
    assert config["license"] == "Apache-2.0"
    assert config["repository"] == "https://github.com/playalter/ComfyUI-PlayAlter"
    assert config["supported_os"] == ["OS Independent"]
    assert config["accelerators"] == ["GPU :: NVIDIA CUDA"]
    assert config["publisher_id"] == "playalter" and config["display_name"]
    assert config["icon"].startswith("https://") and config["icon"].endswith("/docs/icon.svg")
    assert (REPO / "docs" / "icon.svg").is_file()


def test_the_published_archive_holds_the_pack_and_leaves_tests_benches_and_doc_images_out(comfy_cli, tmp_path):
    archive = tmp_path / "node.zip"
    result = _run(comfy_cli, comfy_cli["python"], "-c", _PACK, archive)
    assert result.returncode == 0, result.stdout + result.stderr
    names = zipfile.ZipFile(archive).namelist()
    tops = {name.split("/")[0] for name in names}
    assert {"__init__.py", "nodes", "pipelines", "runner", "workflows", "example_workflows", "install.py",
            "requirements.txt", "pyproject.toml", "README.md"} <= tops
    assert not tops & {"tests", "bench", "tools", ".ci"}, sorted(tops)
    assert not [name for name in names if name.startswith("docs/") and not name.endswith(".md")]
    assert "docs/architecture.md" in names
    templates = {name for name in names if name.startswith("example_workflows/")}
    assert templates == {f"example_workflows/{path.name}" for path in (REPO / "example_workflows").iterdir()}
