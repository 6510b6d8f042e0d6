"""Synthetic-face masks and ArcFace in the audit, on tiny stand-in models (tests/swap_models.py,
tests/onnx_models.py) with the real signatures: they prove loading, latent and paste-back plumbing
without the real weights."""

from __future__ import annotations

import numpy as np
import pytest

from playalter.pipelines.engine.detection import detect_faces
from playalter.pipelines.core.errors import ModelMissingError
from playalter.pipelines.privacy import PrivacyOptions, anonymize, audit, parameters, protect
from playalter.pipelines.privacy.synthetic import COSINE_BOUND, synthetic_identity

from onnx_models import use_models_dir, write_buffalo_l
from swap_models import install_inswapper


@pytest.fixture(scope="module")
def t1_faces(t1_image):
    return detect_faces(t1_image, backend="centerface")


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    use_models_dir(monkeypatch, tmp_path)
    return tmp_path


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


def test_missing_inswapper_is_a_clear_error(models_dir, t1_image, t1_faces):
    with pytest.raises(ModelMissingError) as error:
        anonymize(t1_image, t1_faces, PrivacyOptions("synthetic"))
    assert "inswapper_128" in str(error.value) and "synthetic-face privacy" in str(error.value)
    assert str(models_dir / "insightface" / "inswapper_128.onnx") in str(error.value)


def test_missing_arcface_is_a_clear_error_when_faces_carry_no_embedding(models_dir, monkeypatch, t1_image,
                                                                        t1_faces):
    install_inswapper(models_dir, monkeypatch)
    with pytest.raises(ModelMissingError, match="buffalo_l"):
        anonymize(t1_image, t1_faces, PrivacyOptions("synthetic"))


def test_synthetic_faces_replace_only_the_faces(models_dir, monkeypatch, t1_image):
    install_inswapper(models_dir, monkeypatch)
    faces = detect_faces(t1_image, backend="centerface")
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


def test_synthetic_faces_use_arcface_when_faces_carry_no_embedding(models_dir, monkeypatch, t1_image, t1_faces):
    install_inswapper(models_dir, monkeypatch)
    write_buffalo_l(models_dir)
    result = anonymize(t1_image, t1_faces, PrivacyOptions("synthetic", seed=3))
    np.testing.assert_array_equal(result.image[result.mask == 0], t1_image[result.mask == 0])
    assert np.any(result.image != t1_image)


def test_audit_prefers_arcface_when_the_model_is_present(models_dir, t1_image, t1_faces):
    write_buffalo_l(models_dir)
    untouched = audit(t1_image, t1_faces, t1_image)
    assert untouched["identity"]["model"]["name"] == "arcface_w600k_r50"
    assert all(entry["identity_distance"] == pytest.approx(0.0, abs=1e-4) for entry in untouched["faces"])
    hidden = protect(t1_image, t1_faces, PrivacyOptions("solid"), run_audit=True).report["audit"]
    assert all(entry["identity_distance"] > 0.1 for entry in hidden["faces"])
