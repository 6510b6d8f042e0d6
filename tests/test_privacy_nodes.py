"""The privacy nodes and the saved privacy workflows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from playalter.nodes.privacy import (
    NODE_CLASS_MAPPINGS, PlayAlterPrivacyAudit, PlayAlterPrivacyLevels, PlayAlterPrivacyMask,
)
from playalter.nodes.tensors import image_batch_to_numpy, numpy_to_image_batch
from playalter.pipelines.engine.detection import detect_faces
from playalter.pipelines.core.errors import InvalidParameterError, PlayalterError

WORKFLOWS = Path(__file__).resolve().parents[1] / "workflows" / "api"
PRIVACY_WORKFLOWS = ("privacy_blur.json", "privacy_pixelate_levels.json", "privacy_audit.json")


@pytest.fixture(scope="module")
def t1_batch(t1_image):
    return numpy_to_image_batch([t1_image]), [detect_faces(t1_image)]


def _widgets(node_class) -> dict:
    spec = node_class.INPUT_TYPES()
    return {**spec["required"], **spec.get("optional", {})}


def _defaults(node_class) -> dict:
    values = {}
    for name, (kind, *rest) in _widgets(node_class).items():
        options = rest[0] if rest else {}
        if isinstance(kind, list):
            values[name] = options.get("default", kind[0])
        elif "default" in options:
            values[name] = options["default"]
    return values


def test_mask_node_returns_image_mask_and_audit(t1_batch, t1_image):
    image, faces = t1_batch
    values = {**_defaults(PlayAlterPrivacyMask), "audit": True}
    values.pop("flame_fit", None)
    out, mask, audit_json = PlayAlterPrivacyMask().mask(image, faces, **values)
    assert out.shape == image.shape and mask.shape == image.shape[:3]
    report = json.loads(audit_json)
    assert report["all_hidden"] and len(report["images"][0]["faces"]) == 6
    result = image_batch_to_numpy(out)[0]
    outside = mask[0].numpy() == 0
    np.testing.assert_array_equal(result[outside], t1_image[outside])


def test_mask_node_reports_recognisable_faces_and_names_the_model(t1_batch):
    from playalter.pipelines.engine import embedding

    try:
        embedding.resolve_space()
    except PlayalterError as missing:
        pytest.skip(f"no identity model: {missing}")
    image, faces = t1_batch
    values = {**_defaults(PlayAlterPrivacyMask), "audit": True, "mask_type": "blur", "strength": 0.0}
    values.pop("flame_fit", None)
    report = json.loads(PlayAlterPrivacyMask().mask(image, faces, **values)[2])["images"][0]["audit"]
    assert report["identity"]["model"]["name"] in embedding.SPACES
    assert report["still_recognisable"] >= 1 and not report["all_hidden"]
    assert {"identity_distance", "recognisable", "identity_rank"} <= set(report["faces"][0])


def test_levels_node_returns_a_batch_of_levels(t1_batch, t1_image):
    image, faces = t1_batch
    values = {**_defaults(PlayAlterPrivacyLevels), "mask_type": "pixelate", "levels": 3}
    images, masks, metadata = PlayAlterPrivacyLevels().levels(image, faces, **values)
    assert images.shape[0] == masks.shape[0] == 3
    levels = json.loads(metadata)["levels"]
    assert [level["name"] for level in levels] == ["medium", "strong", "complete"]
    changes = [level["mean_abs_change"] for level in levels]
    assert changes == sorted(changes)


def test_levels_node_rejects_zero_levels(t1_batch):
    image, faces = t1_batch
    with pytest.raises(InvalidParameterError, match="levels"):
        PlayAlterPrivacyLevels().levels(image, faces, **{**_defaults(PlayAlterPrivacyLevels), "levels": 0})


def test_audit_node_compares_original_and_anonymized(t1_batch):
    image, faces = t1_batch
    report, still = PlayAlterPrivacyAudit().audit(image, image, faces, 0.5)
    assert still == 6 and not json.loads(report)["all_hidden"]


def test_unknown_mask_type_from_a_node_is_a_clear_error(t1_batch):
    image, faces = t1_batch
    values = {**_defaults(PlayAlterPrivacyMask), "mask_type": "swirl"}
    with pytest.raises(InvalidParameterError, match="unknown mask type 'swirl'"):
        PlayAlterPrivacyMask().mask(image, faces, **values)


def test_importing_the_nodes_loads_nothing_heavy():
    code = ("import sys, playalter.nodes.privacy; "
            "print(sorted(m for m in ('cv2', 'torch', 'onnxruntime', 'scipy') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


@pytest.mark.parametrize("name", PRIVACY_WORKFLOWS)
def test_workflows_bind_by_title_and_match_the_nodes(name):
    workflow = json.loads((WORKFLOWS / name).read_text())
    titles = {node["_meta"]["title"]: node for node in workflow.values()}
    assert titles["image"]["class_type"] == "LoadImage"
    privacy = titles["privacy"]
    node_class = NODE_CLASS_MAPPINGS[privacy["class_type"]]
    widgets = _widgets(node_class)
    required = set(node_class.INPUT_TYPES()["required"])
    assert required <= set(privacy["inputs"]), required - set(privacy["inputs"])
    assert set(privacy["inputs"]) <= set(widgets)
    assert {"mask_type", "strength"} <= set(privacy["inputs"])
    for input_name, value in privacy["inputs"].items():
        kind = widgets[input_name][0]
        if isinstance(value, list):
            assert value[0] in workflow, f"{name}: {input_name} links to a missing node"
        elif isinstance(kind, list):
            assert value in kind
    if privacy["class_type"] == "PlayAlterPrivacyLevels":
        assert "levels" in privacy["inputs"]


@pytest.mark.parametrize("name", PRIVACY_WORKFLOWS)
def test_workflow_privacy_settings_hide_every_t1_face(name, t1_batch):
    """Run the privacy node of each saved workflow with its saved widget values."""
    image, faces = t1_batch
    privacy = next(node for node in json.loads((WORKFLOWS / name).read_text()).values()
                   if node["_meta"]["title"] == "privacy")
    values = {key: value for key, value in privacy["inputs"].items() if not isinstance(value, list)}
    node = NODE_CLASS_MAPPINGS[privacy["class_type"]]()
    outputs = getattr(node, node.FUNCTION)(image, faces, **values)
    last = image_batch_to_numpy(outputs[0])[-1]
    assert detect_faces(last) == []


def test_audit_node_refuses_an_anonymized_image_of_another_size(t1_batch):
    image, faces = t1_batch
    smaller = image[:, ::2, ::2].contiguous()
    with pytest.raises(InvalidParameterError, match="anonymized is .* but original is"):
        PlayAlterPrivacyAudit().audit(image, smaller, faces, 0.5)
