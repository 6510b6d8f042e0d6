"""example_workflows/: the templates ComfyUI's editor lists for the pack, kept identical to workflows/ui/.

tools/make_example_workflows.py writes them (a copy of each UI workflow named in its TEMPLATES, and a
thumbnail made by running the workflow on a sample photo); tests/test_comfyui_templates.py checks them in a
real ComfyUI.
"""

from __future__ import annotations

import importlib.util
import io
import shutil
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
TEMPLATE_DIR = REPO / "example_workflows"
MAX_THUMBNAIL_BYTES = 60_000
REGENERATE = "run: python tools/make_example_workflows.py"


def _tool():
    path = REPO / "tools" / "make_example_workflows.py"
    spec = importlib.util.spec_from_file_location("make_example_workflows", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TOOL = _tool()


def test_the_folder_holds_one_template_and_one_thumbnail_per_listed_workflow():
    assert sorted(path.name for path in TEMPLATE_DIR.iterdir()) == sorted(
        f"{name}{suffix}" for name in TOOL.TEMPLATES for suffix in (".json", ".jpg")), REGENERATE


def test_templates_cover_each_capability_once():
    """Detection, dense analysis, measurements, photo privacy and its audit, video privacy, swap and the swap
    compatibility check: one workflow each (FLAME needs its licence-gated model to make a thumbnail)."""
    assert len(TOOL.TEMPLATES) == len(set(TOOL.TEMPLATES)) == 8
    assert all((REPO / "workflows" / "ui" / f"{name}.json").is_file() for name in TOOL.TEMPLATES)


@pytest.mark.parametrize("name", TOOL.TEMPLATES)
def test_a_template_is_its_ui_workflow_byte_for_byte(name):
    template = TEMPLATE_DIR / f"{name}.json"
    assert template.read_bytes() == (REPO / "workflows" / "ui" / f"{name}.json").read_bytes(), REGENERATE


@pytest.mark.parametrize("name", TOOL.TEMPLATES)
def test_a_thumbnail_is_a_small_jpeg(name):
    data = (TEMPLATE_DIR / f"{name}.jpg").read_bytes()
    assert len(data) <= MAX_THUMBNAIL_BYTES
    with Image.open(io.BytesIO(data)) as thumbnail:
        assert thumbnail.format == "JPEG" and max(thumbnail.size) == TOOL.THUMBNAIL_SIDE


def test_the_tool_refreshes_a_changed_template_and_removes_a_stray_file(tmp_path, monkeypatch):
    """Its copying half (the thumbnails need runs): what it leaves is what the tests above expect."""
    templates = tmp_path / "example_workflows"
    shutil.copytree(TEMPLATE_DIR, templates)
    (templates / "detect_faces.json").write_text("{}")
    (templates / "retired.json").write_text("{}")
    monkeypatch.setattr(TOOL, "TEMPLATE_DIR", templates)
    TOOL.copy_templates()
    assert sorted(path.name for path in templates.iterdir()) == sorted(path.name for path in TEMPLATE_DIR.iterdir())
    assert (templates / "detect_faces.json").read_bytes() == (REPO / "workflows/ui/detect_faces.json").read_bytes()
