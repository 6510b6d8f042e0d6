"""Swap node family through ComfyUI tensors, and the saved swap workflows."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from playalter.nodes import NODE_CLASS_MAPPINGS
from playalter.nodes.swap import (PlayAlterFaceCompatibility, PlayAlterFaceSwap, PlayAlterLoadFaceIdentity,
                                  PlayAlterSaveFaceIdentity)
from playalter.nodes.tensors import image_batch_to_numpy, numpy_to_image_batch
from playalter.pipelines.core import config
from playalter.pipelines.core.errors import InvalidParameterError
from playalter.pipelines.engine.detection import detect_faces

WORKFLOWS = Path(__file__).resolve().parents[1] / "workflows" / "api"
SWAP_DEFAULTS = dict(method="classical", source_indices="0", target_indices="0", pairing="index",
                     average_sources=False, color_correction="lab", blend_mode="feather", feather=0.06,
                     occlusion=True, mouth=True, sharpen=0.3, denoise=0.0)


@pytest.fixture(scope="module")
def t1_tensor(t1_image):
    return numpy_to_image_batch([t1_image])


@pytest.fixture(scope="module")
def t1_faces(t1_image):
    return [detect_faces(t1_image, order="left_to_right")]


def test_swap_node_changes_only_the_chosen_face(t1_tensor, t1_image, t1_faces):
    image, report_json = PlayAlterFaceSwap().swap(t1_tensor, source=t1_tensor, source_faces=t1_faces,
                                                  target_faces=t1_faces, **{**SWAP_DEFAULTS, "target_indices": "4"})
    output = image_batch_to_numpy(image)[0]
    report = json.loads(report_json)["images"][0]
    assert report["method"] == "classical" and report["swaps"][0]["target_index"] == 4
    changed = np.abs(output.astype(int) - t1_image).max(axis=-1) > 0
    x1, y1, x2, y2 = t1_faces[0][4].bbox.astype(int)
    assert changed[y1:y2, x1:x2].mean() > 0.15  # occluders on either side (hair, background) stay unchanged
    changed[max(y1 - 40, 0):y2 + 40, max(x1 - 40, 0):x2 + 40] = False
    assert not changed.any()


def test_swap_node_detects_faces_itself(t1_tensor, t1_image):
    image, report_json = PlayAlterFaceSwap().swap(t1_tensor, source=t1_tensor,
                                                  **{**SWAP_DEFAULTS, "target_indices": "1"})
    assert json.loads(report_json)["images"][0]["swaps"][0]["changed_pixels"] > 1000


def test_disabled_swap_passes_target_through(t1_tensor):
    image, report_json = PlayAlterFaceSwap().swap(t1_tensor, source=t1_tensor, **SWAP_DEFAULTS, enabled=False)
    assert image is t1_tensor
    assert json.loads(report_json)["skipped"] is True


def test_swap_node_needs_a_source_or_an_identity(t1_tensor):
    with pytest.raises(ValueError, match="needs a source image or a saved identity"):
        PlayAlterFaceSwap().swap(t1_tensor, **SWAP_DEFAULTS)


def test_saved_identity_swaps_without_a_source_image(t1_tensor, t1_faces, tmp_path, monkeypatch):
    """Save Face Identity -> Load Face Identity -> Face Swap (no source image), InSwapper stand-in."""
    from playalter.pipelines.swap import inswapper

    from swap_models import install_inswapper

    install_inswapper(tmp_path / "models", monkeypatch)
    monkeypatch.setenv("PLAYALTER__SWAP__IDENTITIES_DIR", str(tmp_path / "identities"))
    config.reset_settings()
    inswapper._cache.clear()
    generator = np.random.default_rng(1)
    with_embeddings = [[dataclasses.replace(face, embedding=generator.normal(size=512).astype(np.float32))
                        for face in t1_faces[0]]]
    try:
        PlayAlterSaveFaceIdentity().save(t1_tensor, "ross", "2", "json", faces=with_embeddings)
        loaded, _ = PlayAlterLoadFaceIdentity().load("ross")
        image, report_json = PlayAlterFaceSwap().swap(t1_tensor, **{**SWAP_DEFAULTS, "method": "auto",
                                                                    "target_indices": "1"},
                                                      target_faces=t1_faces, identity=loaded)
        report = json.loads(report_json)["images"][0]
        assert report["method"] == "inswapper" and report["swaps"][0]["source"] == "identity 'ross'"
        assert not np.array_equal(image_batch_to_numpy(image)[0], image_batch_to_numpy(t1_tensor)[0])
    finally:
        config.reset_settings()
        inswapper._cache.clear()


def test_validate_inputs_reports_bad_indices():
    assert PlayAlterFaceSwap.VALIDATE_INPUTS(source_indices="0", target_indices="all") is True
    assert "comma-separated" in PlayAlterFaceSwap.VALIDATE_INPUTS(source_indices="x", target_indices="0")


def test_compatibility_gates_the_swap(t1_tensor, t1_faces):
    """The gated workflow's wiring: compatible -> enabled."""
    node = PlayAlterFaceCompatibility()
    args = dict(source_index=2, target_index=0, source_faces=t1_faces, target_faces=t1_faces)
    score, compatible, report_json, card = node.check(t1_tensor, t1_tensor, threshold=100.0, **args)
    assert compatible is False and 0 < score < 100
    assert card.shape[0] == 1 and card.shape[3] == 3
    assert json.loads(report_json)["images"][0]["recommendation"]
    image, swap_report = PlayAlterFaceSwap().swap(t1_tensor, source=t1_tensor, **SWAP_DEFAULTS, enabled=compatible)
    assert image is t1_tensor and "enabled" in json.loads(swap_report)["reason"]
    _, compatible, _, _ = node.check(t1_tensor, t1_tensor, threshold=0.0, **args)
    assert compatible is True


def test_compatibility_index_out_of_range(t1_tensor, t1_faces):
    with pytest.raises(ValueError, match="target face index 7 does not exist"):
        PlayAlterFaceCompatibility().check(t1_tensor, t1_tensor, 0, 7, 50.0, t1_faces, t1_faces)


def test_save_and_load_identity_nodes(t1_tensor, t1_faces, tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYALTER__SWAP__IDENTITIES_DIR", str(tmp_path))
    config.reset_settings()
    generator = np.random.default_rng(0)
    with_embeddings = [[dataclasses.replace(face, embedding=generator.normal(size=512).astype(np.float32))
                        for face in t1_faces[0]]]
    try:
        with pytest.raises(InvalidParameterError, match="do not all show one person"):  # two people of t1.jpg
            PlayAlterSaveFaceIdentity().save(t1_tensor, "friends", "0,1", "npz", faces=with_embeddings)
        assert not (tmp_path / "friends.npz").exists()
        saved = PlayAlterSaveFaceIdentity().save(t1_tensor, "friends", "0,1", "npz", faces=with_embeddings,
                                                 check_one_person=False)
        built, path, check = saved["result"]
        assert built.count == 2 and Path(path) == tmp_path / "friends.npz"
        assert json.loads(check)["one_person"] is False  # two people of t1.jpg (stand-in embeddings)
        loaded, summary = PlayAlterLoadFaceIdentity().load("friends.npz")
        np.testing.assert_allclose(loaded.embedding, built.embedding)
        assert json.loads(summary)["count"] == 2
        assert "not allowed" in PlayAlterLoadFaceIdentity.VALIDATE_INPUTS(name="../x.json")
    finally:
        config.reset_settings()


def _links(inputs: dict) -> list[tuple[str, int]]:
    return [(value[0], value[1]) for value in inputs.values() if isinstance(value, list) and len(value) == 2]


@pytest.mark.parametrize("name", ["face_swap", "face_swap_multi", "face_swap_gated", "face_swap_identity"])
def test_workflows_are_wired_to_real_inputs(name):
    graph = json.loads((WORKFLOWS / f"{name}.json").read_text())
    titles = {node["_meta"]["title"]: node for node in graph.values()}
    assert titles["target"]["class_type"] == "LoadImage"
    assert titles["source"]["class_type"] == "LoadImage"
    assert titles["swap"]["class_type"] == "PlayAlterFaceSwap"
    for node_id, node in graph.items():
        for source_id, output_index in _links(node["inputs"]):
            assert source_id in graph, f"{node_id} links to missing node {source_id}"
            source_class = graph[source_id]["class_type"]
            if source_class in NODE_CLASS_MAPPINGS:
                assert output_index < len(NODE_CLASS_MAPPINGS[source_class].RETURN_TYPES)
        node_class = NODE_CLASS_MAPPINGS.get(node["class_type"])
        if node_class is None:
            assert node["class_type"] in ("LoadImage", "SaveImage")
            continue
        declared = node_class.INPUT_TYPES()
        known = {**declared["required"], **declared.get("optional", {})}
        assert set(node["inputs"]) <= set(known), node["class_type"]
        assert set(declared["required"]) <= set(node["inputs"]), node["class_type"]
    if name == "face_swap_gated":
        enabled = titles["swap"]["inputs"]["enabled"]
        assert graph[enabled[0]]["class_type"] == "PlayAlterFaceCompatibility" and enabled[1] == 1


@pytest.mark.parametrize("name", ["PlayAlterFaceSwap", "PlayAlterFaceCompatibility", "PlayAlterSaveFaceIdentity",
                                  "PlayAlterLoadFaceIdentity"])
def test_node_contract(name):
    import inspect

    node = NODE_CLASS_MAPPINGS[name]
    declared = node.INPUT_TYPES()
    inputs = {**declared["required"], **declared.get("optional", {})}
    assert node.CATEGORY == "PLAYALTER/swap" and node.DESCRIPTION
    assert len(node.RETURN_TYPES) == len(node.RETURN_NAMES)
    parameters = inspect.signature(getattr(node, node.FUNCTION)).parameters
    assert set(parameters) - {"self"} == set(inputs)
    for optional in declared.get("optional", {}):
        assert parameters[optional].default is not inspect.Parameter.empty


def test_faces_off_the_image_are_refused_by_swap_and_compatibility(t1_tensor, t1_faces):
    """FACES of another (bigger) image, or made by hand, are named as the problem, not left to OpenCV."""
    face = t1_faces[0][0]
    off_image = dataclasses.replace(face, bbox=face.bbox + 5000, kps=face.kps + 5000)
    one_spot = dataclasses.replace(face, kps=np.repeat(face.kps[:1], 5, axis=0))
    with pytest.raises(InvalidParameterError, match="face 0 of the target image 0 has the box .* outside the"):
        PlayAlterFaceSwap().swap(t1_tensor, source=t1_tensor, source_faces=t1_faces, target_faces=[[off_image]],
                                 **SWAP_DEFAULTS)
    with pytest.raises(InvalidParameterError, match="face 0 of the target image 0 has its five keypoints on one"):
        PlayAlterFaceCompatibility().check(t1_tensor, t1_tensor, 0, 0, 50.0, source_faces=t1_faces,
                                           target_faces=[[one_spot]])


def test_an_empty_source_batch_is_named(t1_tensor):
    from playalter.pipelines.core.errors import ImageValidationError

    with pytest.raises(ImageValidationError, match="source is an empty batch"):
        PlayAlterFaceSwap().swap(t1_tensor, source=t1_tensor[:0], **SWAP_DEFAULTS)
