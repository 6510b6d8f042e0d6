"""Core and extras (issue 26): the node pack never imports the service's packages; a command whose extra is
missing names the extra and the pip command, once, exit code 2; the service runs without the scale extra."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import pytest

from playalter.pipelines.core import config
from playalter.runner import installation
from playalter.runner.cli import extras
from playalter.runner.cli.main import main

REPO = Path(__file__).resolve().parents[1]
SERVER_ONLY = ("aiohttp", "jwt", "limits", "coredis", "prometheus_client", "jsonschema", "websocket",
               "psycopg", "psycopg_pool", "procrastinate")
IMPORT_THE_PACK = f"""
import importlib, json, pkgutil, sys
import playalter, playalter.nodes, playalter.pipelines
for package in (playalter.nodes, playalter.pipelines):
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(info.name)
print(json.dumps(sorted(name for name in {SERVER_ONLY!r} if name in sys.modules)))
"""


def test_importing_the_pack_imports_no_server_package(tmp_path):
    finished = subprocess.run([sys.executable, "-c", IMPORT_THE_PACK], cwd=tmp_path, capture_output=True, text=True,
                              timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert json.loads(finished.stdout.splitlines()[-1]) == []


def test_the_extras_modules_are_what_pyproject_installs():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    core = " ".join(project["dependencies"]).lower()
    for name in ("aiohttp", "pyjwt", "limits", "prometheus", "jsonschema", "websocket", "psycopg", "procrastinate"):
        assert name not in core, f"{name} is the service's, not the node pack's"
    assert set(installation.EXTRAS) <= set(project["optional-dependencies"])
    assert any(extra.startswith("playalter[") and "server" in extra and "scale" in extra
               for extra in project["optional-dependencies"]["test"])


def test_install_command_names_the_extras_packages_for_this_python():
    command = extras.install_command("server")
    assert command.startswith(f"{sys.executable} -m pip install ")
    assert '"aiohttp>=3.14"' in command and '"PyJWT>=2.8"' in command
    assert "procrastinate" in extras.install_command("scale")


@pytest.fixture
def environment(monkeypatch, tmp_path):
    """A private data folder; the settings are read again from this environment and forgotten afterwards."""
    monkeypatch.setenv("PLAYALTER__PATHS__DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PLAYALTER__DATABASE__URL", raising=False)
    config.reset_settings()
    yield monkeypatch
    config.reset_settings()


def without(monkeypatch, *modules: str) -> None:
    """Make ``import module`` fail, as it does where the package is not installed."""
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)


@pytest.mark.parametrize("command", [
    ["serve", "--port", "0"],
    ["keys", "list"],
    ["audit", "verify"],
    ["db", "upgrade"],
    ["run", "workflow.json", "--remote", "http://127.0.0.1:9"],
])
def test_a_command_without_the_server_extra_says_which_and_how(command, environment, capsys, tmp_path):
    without(environment, "aiohttp")
    assert main(command) == 2
    captured = capsys.readouterr()
    assert captured.err.count("needs the 'server' extra") == 1
    assert f"{sys.executable} -m pip install " in captured.err and "aiohttp" in captured.err
    assert "Traceback" not in captured.err + captured.out
    assert not (tmp_path / "data").exists(), "nothing is created before the refusal"


@pytest.mark.parametrize("command", [["worker"], ["serve", "--port", "0"], ["keys", "list"], ["db", "upgrade"],
                                     ["audit", "verify"]])
def test_a_postgres_command_without_the_scale_extra_says_which_and_how(command, environment, capsys):
    environment.setenv("PLAYALTER__DATABASE__URL", "postgresql://playalter@127.0.0.1:9/playalter")
    without(environment, "procrastinate")
    assert main(command) == 2
    captured = capsys.readouterr()
    assert captured.err.count("needs the 'scale' extra") == 1
    assert "procrastinate" in captured.err and "Traceback" not in captured.err + captured.out


SERVE_WITHOUT_SCALE = """
import sys
for name in ("psycopg", "psycopg_pool", "procrastinate"):
    sys.modules[name] = None
from playalter.runner.cli.main import main
sys.exit(main(["serve", "--port", "0"]))
"""


def test_the_service_runs_without_the_scale_extra(tmp_path):
    env = {**os.environ, "PLAYALTER__PATHS__DATA_DIR": str(tmp_path / "data"), "PLAYALTER__SERVER__WORKERS": "1"}
    env.pop("PLAYALTER__DATABASE__URL", None)
    process = subprocess.Popen([sys.executable, "-c", SERVE_WITHOUT_SCALE], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    timer = threading.Timer(120, process.kill)
    timer.start()
    try:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("PLAYALTER is serving on"):
                break
        assert lines and lines[-1].startswith("PLAYALTER is serving on"), "".join(lines)
    finally:
        timer.cancel()
        process.terminate()
        process.wait(timeout=60)
