"""Conventions every shipped workflow keeps: one face order, one save folder, bindable titles, paired numbering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from playalter.nodes.face_detect import PlayAlterFaceDetect
from playalter.nodes.files import reserve_numbered_file

API_DIR = Path(__file__).resolve().parents[1] / "workflows" / "api"
WORKFLOWS = sorted(API_DIR.glob("*.json"))


def _nodes(path: Path) -> list[dict]:
    return list(json.loads(path.read_text()).values())


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.stem)
def test_faces_are_numbered_largest_first(path):
    detectors = [node for node in _nodes(path) if node["class_type"] == "PlayAlterFaceDetect"]
    assert all(node["inputs"]["order"] == "largest" for node in detectors)


def test_the_node_default_order_is_largest_first():
    assert PlayAlterFaceDetect.INPUT_TYPES()["required"]["order"][1]["default"] == "largest"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.stem)
def test_face_detect_is_titled_detect_or_detect_and_its_image(path):
    """'detect.threshold=0.3' binds a one-image workflow; 'detect target.threshold=' a swap's target."""
    images = [node["_meta"]["title"] for node in _nodes(path) if node["class_type"] == "LoadImage"]
    detectors = ("PlayAlterFaceDetect", "PlayAlterPrivacyDetect")
    titles = [node["_meta"]["title"] for node in _nodes(path) if node["class_type"] in detectors]
    allowed = {"detect"} if len(images) == 1 else {f"detect {image}" for image in images}
    assert titles and set(titles) <= allowed


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.stem)
def test_every_save_goes_to_the_playalter_folder(path):
    prefixes = [node["inputs"]["filename_prefix"] for node in _nodes(path) if "filename_prefix" in node["inputs"]]
    assert prefixes and all(prefix == f"playalter/{prefix.split('/', 1)[1]}" for prefix in prefixes)


def test_an_image_and_its_json_get_the_same_number(tmp_path):
    image = reserve_numbered_file(tmp_path, "playalter/detect_faces", "png")
    document = reserve_numbered_file(tmp_path, "playalter/detect_faces", "json")
    assert (image.filename, document.filename) == ("detect_faces_00001_.png", "detect_faces_00001_.json")
    assert reserve_numbered_file(tmp_path, "playalter/detect_faces", "png").filename == "detect_faces_00002_.png"
