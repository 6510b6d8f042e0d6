"""Synthetic-face masks: the identity is provably far from the original; models missing is a clear error.

InSwapper is replaced by a tiny ONNX with the real signature (target 1x3x128x128, source 1x512,
emap as the last initializer) whose output depends on both inputs, so the loading, latent and
paste-back plumbing is exercised without the 550 MB model.
"""

from __future__ import annotations

import numpy as np
import pytest

from playalter.pipelines import onnx_runtime
from playalter.pipelines.detection import detect_faces
from playalter.pipelines.errors import ModelMissingError
from playalter.pipelines.privacy import PrivacyOptions, anonymize, parameters
from playalter.pipelines.privacy.synthetic import COSINE_BOUND, synthetic_identity


def _tiny_inswapper(path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = numpy_helper.from_array(rng.normal(0, 0.05, (512, 3)).astype(np.float32), "weights")
    shape = numpy_helper.from_array(np.array([1, 3, 1, 1], np.int64), "shape")
    half = numpy_helper.from_array(np.array(0.5, np.float32), "half")
    emap = numpy_helper.from_array(np.eye(512, dtype=np.float32), "emap")
    nodes = [
        helper.make_node("MatMul", ["source", "weights"], ["colour"]),  # [1,3]
        helper.make_node("Reshape", ["colour", "shape"], ["colour_map"]),  # [1,3,1,1]
        helper.make_node("Mul", ["target", "half"], ["dimmed"]),
        helper.make_node("Add", ["dimmed", "colour_map"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny_inswapper",
        [helper.make_tensor_value_info("target", TensorProto.FLOAT, [1, 3, 128, 128]),
         helper.make_tensor_value_info("source", TensorProto.FLOAT, [1, 512])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 128, 128])],
        [weights, shape, half, emap],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PLAYALTER_MODELS_DIR", str(tmp_path / "models"))
    (tmp_path / "models" / "insightface").mkdir(parents=True)
    yield tmp_path / "models"
    onnx_runtime.clear_cache()


@pytest.mark.parametrize("cosine", [COSINE_BOUND, 0.0, -0.1])
def test_synthetic_identity_has_exactly_the_requested_cosine(cosine):
    original = np.random.default_rng(1).normal(size=512)
    original /= np.linalg.norm(original)
    first = synthetic_identity(original, cosine, np.random.default_rng(2))
    other = synthetic_identity(original, cosine, np.random.default_rng(3))
    assert np.linalg.norm(first) == pytest.approx(1.0, abs=1e-5)
    assert float(first @ original) == pytest.approx(cosine, abs=1e-5)
    assert float(first @ other) < 0.5


def test_strength_maps_to_cosines_under_the_bound():
    assert parameters("synthetic", 0.0)["max_cosine"] == pytest.approx(COSINE_BOUND)
    assert parameters("synthetic", 1.0)["max_cosine"] < 0.0


def test_missing_inswapper_is_a_clear_error(models_dir, t1_image):
    faces = detect_faces(t1_image)
    with pytest.raises(ModelMissingError) as error:
        anonymize(t1_image, faces, PrivacyOptions("synthetic"))
    assert "inswapper_128" in str(error.value) and "synthetic-face privacy" in str(error.value)
    assert str(models_dir / "insightface" / "inswapper_128.onnx") in str(error.value)


def test_missing_arcface_is_a_clear_error_when_faces_carry_no_embedding(models_dir, t1_image):
    _tiny_inswapper(models_dir / "insightface" / "inswapper_128.onnx")
    faces = detect_faces(t1_image)
    with pytest.raises(ModelMissingError, match="buffalo_l"):
        anonymize(t1_image, faces, PrivacyOptions("synthetic"))


def test_synthetic_faces_replace_only_the_faces(models_dir, t1_image):
    _tiny_inswapper(models_dir / "insightface" / "inswapper_128.onnx")
    faces = detect_faces(t1_image)
    rng = np.random.default_rng(5)
    for face in faces:  # as the buffalo_l backend would give them
        embedding = rng.normal(size=512)
        face.embedding = embedding / np.linalg.norm(embedding)
    result = anonymize(t1_image, faces, PrivacyOptions("synthetic", strength=1.0))
    outside = result.mask == 0
    np.testing.assert_array_equal(result.image[outside], t1_image[outside])
    for face in faces:
        centre_x, centre_y = (int(value) for value in face.kps[2])
        patch = (slice(centre_y - 5, centre_y + 5), slice(centre_x - 5, centre_x + 5))
        assert np.abs(result.image[patch].astype(int) - t1_image[patch]).mean() > 10
    assert all(entry["params"]["max_cosine"] == pytest.approx(-0.1) for entry in result.faces)
    again = anonymize(t1_image, faces, PrivacyOptions("synthetic", strength=1.0))
    np.testing.assert_array_equal(again.image, result.image)
