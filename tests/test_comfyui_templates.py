"""The pack's templates in a real ComfyUI: ``/workflow_templates`` lists every one, each is served with its
thumbnail, and each loads in the editor (headless Chromium) with every node known, giving the prompt the runner
reads from the same file.

Opt-in, like tests/test_manager_install.py: set ``PLAYALTER_COMFYUI_DIR`` to a ComfyUI checkout and
``PLAYALTER_COMFYUI_PYTHON`` to an interpreter with its requirements (frontend included) and this pack's
dependencies (default: the one running the tests). ComfyUI runs with ``--base-directory`` in a temporary folder
whose ``custom_nodes/`` links this checkout, so the checkout is left as it is. Needs Debian's ``chromium`` and
``chromium-driver`` and ``selenium``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from playalter.runner.engine.registry import default_node_classes
from playalter.runner.engine.workflow import load_workflow

from chromium import chromium_driver
from ports import free_port
from test_example_workflows import TEMPLATE_DIR, TOOL

PACK_FOLDER = "ComfyUI-PlayAlter"
COMFYUI_DIR = os.environ.get("PLAYALTER_COMFYUI_DIR", "")
COMFYUI_PYTHON = os.environ.get("PLAYALTER_COMFYUI_PYTHON", sys.executable)

pytestmark = [
    pytest.mark.skipif(not COMFYUI_DIR, reason="opt-in: set PLAYALTER_COMFYUI_DIR to a ComfyUI checkout "
                                               "(and PLAYALTER_COMFYUI_PYTHON to its interpreter)"),
    pytest.mark.timeout(900),
]

# Load a template as the template browser does, then report what the editor made of it.
_LOAD_IN_EDITOR = """
const [url, name, done] = arguments;
(async () => {
  const graph = await (await fetch(url)).json();
  await window.app.loadGraphData(graph, true, true, name);
  const nodes = window.app.graph._nodes || window.app.graph.nodes;
  const unknown = nodes.filter(node => !(node.type in window.LiteGraph.registered_node_types)).map(node => node.type);
  const prompt = await window.app.graphToPrompt();
  done({nodes: nodes.length, unknown, prompt: prompt.output});
})().catch(error => done({error: String(error)}));
"""


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


@pytest.fixture(scope="module")
def comfyui(tmp_path_factory) -> str:
    """The URL of a ComfyUI whose only custom node pack is this checkout."""
    source = Path(COMFYUI_DIR).resolve()
    assert (source / "main.py").is_file(), f"PLAYALTER_COMFYUI_DIR={COMFYUI_DIR} is not a ComfyUI checkout"
    base = tmp_path_factory.mktemp("comfyui-base")
    (base / "custom_nodes").mkdir()
    (base / "custom_nodes" / PACK_FOLDER).symlink_to(TEMPLATE_DIR.parent, target_is_directory=True)
    port = free_port()
    environ = {key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV", "PYTHONPATH")}
    with open(base / "comfyui.log", "wb") as log:
        process = subprocess.Popen([COMFYUI_PYTHON, "main.py", "--cpu", "--port", str(port), "--base-directory",
                                    str(base)], cwd=source, env=environ, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while True:
            assert process.poll() is None, (base / "comfyui.log").read_text(errors="replace")[-6000:]
            try:
                _get(url + "/system_stats")
                break
            except OSError:
                assert time.monotonic() < deadline, "ComfyUI did not answer within 600 s"
                time.sleep(1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def editor(comfyui, tmp_path_factory):
    driver = chromium_driver(tmp_path_factory.mktemp("chromium-profile"), "--window-size=1400,900")
    from selenium.webdriver.support.ui import WebDriverWait

    driver.set_script_timeout(120)
    try:
        driver.get(comfyui + "/")
        WebDriverWait(driver, 180).until(
            lambda page: page.execute_script("return !!(window.app && window.app.graph && window.LiteGraph)"))
        yield driver
    finally:
        driver.quit()


def test_workflow_templates_lists_the_pack_with_every_template(comfyui):
    listed = json.loads(_get(comfyui + "/workflow_templates"))
    assert sorted(listed[PACK_FOLDER]) == sorted(TOOL.TEMPLATES)


@pytest.mark.parametrize("name", TOOL.TEMPLATES)
def test_a_template_and_its_thumbnail_are_served(comfyui, name):
    served = f"{comfyui}/api/workflow_templates/{PACK_FOLDER}/{name}"
    assert _get(served + ".json") == (TEMPLATE_DIR / f"{name}.json").read_bytes()
    assert _get(served + ".jpg") == (TEMPLATE_DIR / f"{name}.jpg").read_bytes()


@pytest.mark.parametrize("name", TOOL.TEMPLATES)
def test_a_template_loads_in_the_editor_with_every_node_known(comfyui, editor, name):
    served = f"/api/workflow_templates/{PACK_FOLDER}/{name}.json"
    report = editor.execute_async_script(_LOAD_IN_EDITOR, served, name)
    assert "error" not in report, report
    template = json.loads((TEMPLATE_DIR / f"{name}.json").read_text())
    assert report["unknown"] == [] and report["nodes"] == len(template["nodes"])
    expected = load_workflow(TEMPLATE_DIR / f"{name}.json", default_node_classes())
    assert {node_id: (node["class_type"], node["inputs"]) for node_id, node in report["prompt"].items()} == {
        node_id: (node["class_type"], node["inputs"]) for node_id, node in expected.items()}
