"""InSwapper path with a generated stand-in model (tests/swap_models.py): loading, alignment,
latent, paste-back, method choice. The source embedding is set on the source Face, as the
buffalo_l detector does, so no ArcFace model is needed (nothing is monkeypatched)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from playalter.pipelines.engine import align
from playalter.pipelines.engine.embedding import ARCFACE
from playalter.pipelines.engine.reference import Reference
from playalter.pipelines.core.errors import InvalidParameterError, ModelCorruptError, ModelMissingError
from playalter.pipelines.swap import identity, inswapper
from playalter.pipelines.swap.blend import BlendOptions, blend
from playalter.pipelines.swap.pipeline import Source, SwapOptions, swap_batch, swap_faces

from swap_models import build_inswapper, colour_of, install_inswapper, stand_in_arcface

PLAIN = BlendOptions(color="none", feather=0.0, occlusion=False, mouth=False, sharpen=0.0)


@pytest.fixture
def stand_in(tmp_path, monkeypatch):
    weights = install_inswapper(tmp_path / "models", monkeypatch)
    inswapper._cache.clear()
    yield weights
    inswapper._cache.clear()


def _embedding(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=512).astype(np.float32)
    return vector / np.linalg.norm(vector)


def test_loads_emap_as_last_initializer(stand_in):
    swapper = inswapper.load()
    np.testing.assert_array_equal(swapper.emap, stand_in["emap"])
    assert (swapper.target_input, swapper.source_input) == ("target", "source")


def test_latent_is_normalised_embedding_times_emap(stand_in):
    embedding = 3.0 * _embedding(1)  # not normalised on purpose
    latent = inswapper.source_latent(embedding, stand_in["emap"])
    expected = (embedding / np.linalg.norm(embedding)) @ stand_in["emap"]
    np.testing.assert_allclose(latent[0], expected / np.linalg.norm(expected), rtol=1e-5, atol=1e-6)
    assert latent.shape == (1, 512) and latent.dtype == np.float32


def test_run_feeds_aligned_rgb_crop_and_latent(stand_in, t1_image, t1_faces):
    swapper = inswapper.load()
    aligned, _ = align.crop(t1_image, t1_faces[2].kps, 128)
    latent = inswapper.source_latent(_embedding(2), swapper.emap)
    swapped = inswapper.run(swapper, aligned, latent)  # [128,128,3]
    expected = 0.5 * aligned / 255.0 + 0.5 * colour_of(latent, stand_in["colour_weights"])
    assert np.abs(swapped.astype(float) - np.rint(expected * 255)).max() <= 1


def test_paste_back_changes_inside_and_keeps_outside(stand_in, t1_image, t1_faces):
    swapper = inswapper.load()
    face = t1_faces[2]
    embedding = _embedding(3)
    patch = inswapper.swap(swapper, t1_image, face, embedding)
    result = blend(t1_image, patch, face, PLAIN)
    mask = result.mask
    assert mask.sum() > 0.5 * face.width * face.height  # the outline, not a sliver
    np.testing.assert_array_equal(result.image[~mask], t1_image[~mask])
    # Inside: the stand-in's output warped back is 0.5 * original + 0.5 * colour, so alignment and
    # the inverse affine are right when the original pixels come back in place.
    colour = colour_of(inswapper.source_latent(embedding, swapper.emap), stand_in["colour_weights"]) * 255
    predicted = 0.5 * t1_image[mask].astype(float) + 0.5 * colour
    error = np.abs(result.image[mask].astype(float) - predicted)
    assert np.median(error) < 3.0
    assert np.abs(result.image[mask].astype(float) - t1_image[mask]).mean() > 10


def test_auto_uses_inswapper_with_embedding_and_reports_it(stand_in, t1_image, t1_faces):
    source = Source(t1_image, dataclasses.replace(t1_faces[0], embedding=_embedding(4)), None, "first")
    output, report = swap_faces(t1_image, t1_faces, [source], SwapOptions(target_indices="1,3", blend=PLAIN))
    assert report["method"] == "inswapper"
    assert [entry["target_index"] for entry in report["swaps"]] == [1, 3]
    assert report["swaps"][0]["similarity"]["to_source"] is None  # no ArcFace model installed here
    json.dumps(report)
    for index, face in enumerate(t1_faces):
        x1, y1, x2, y2 = face.bbox.astype(int)
        changed = np.abs(output[y1:y2, x1:x2].astype(int) - t1_image[y1:y2, x1:x2]).mean() > 2
        assert changed == (index in (1, 3)), index


def test_saved_identity_drives_inswapper(stand_in, t1_image, t1_faces, tmp_path):
    saved = identity.save(identity.FaceIdentity(_embedding(5), name="x"), tmp_path / "x.npz")
    loaded = identity.load(saved)
    first, _ = swap_batch([], [t1_image], None, [t1_faces], SwapOptions(target_indices="2", blend=PLAIN),
                          saved_identity=loaded)
    second = swap_faces(t1_image, t1_faces, [Source(None, None, _embedding(5))],
                        SwapOptions(target_indices="2", blend=PLAIN, similarity_report=False))[0]
    np.testing.assert_array_equal(first[0], second)


def test_missing_model_is_a_clear_error(tmp_path, monkeypatch, t1_image, t1_faces):
    from playalter.pipelines.core import config

    monkeypatch.setenv("PLAYALTER_MODELS_DIR", str(tmp_path / "empty"))
    config.reset_settings()
    with pytest.raises(ModelMissingError, match="inswapper_128") as error:
        swap_faces(t1_image, t1_faces, [Source(None, None, _embedding(6))], SwapOptions(method="inswapper"))
    assert str(tmp_path / "empty" / "insightface" / "inswapper_128.onnx") in str(error.value)
    with pytest.raises(ModelMissingError):  # auto cannot fall back without a source photo
        swap_faces(t1_image, t1_faces, [Source(None, None, _embedding(6))], SwapOptions())


def test_wrong_model_is_rejected(tmp_path):
    path = tmp_path / "inswapper_128.onnx"
    build_inswapper(path)
    import onnx

    model = onnx.load(str(path))
    model.graph.initializer.pop()  # emap no longer last
    onnx.save(model, str(path))
    with pytest.raises(ModelCorruptError, match="emap"):
        inswapper.load(path)
    path.write_bytes(b"not a model")
    with pytest.raises(ModelCorruptError, match="not a readable ONNX"):
        inswapper.load(path)


def test_inswapper_without_embedding_is_a_clear_error(stand_in, t1_image, t1_faces):
    with pytest.raises(InvalidParameterError, match="ArcFace embedding"):
        swap_faces(t1_image, t1_faces, [Source(t1_image, t1_faces[0])], SwapOptions(method="inswapper"))


def test_report_similarities_with_a_stand_in_arcface(stand_in, t1_image, t1_faces, monkeypatch):
    """recognition.embed is monkeypatched with a fixed random projection of the aligned crop
    (``stand_in_arcface``): the report's plumbing (which image and which face get embedded) is what is
    checked here."""
    stand_in_arcface(monkeypatch)
    source = Source(t1_image, t1_faces[0], None, "first")
    _, report = swap_faces(t1_image, t1_faces, [source], SwapOptions(target_indices="3", blend=PLAIN))
    assert report["method"] == "inswapper"  # the embedding came from (stand-in) ArcFace
    similarity = report["swaps"][0]["similarity"]
    assert -1 <= similarity["to_source"] <= 1 and similarity["to_target"] < 0.99
    itself = Source(t1_image, t1_faces[3], None, "itself")  # warping a face onto itself changes ~nothing
    _, same = swap_faces(t1_image, t1_faces, [itself], SwapOptions(method="classical", target_indices="3", blend=PLAIN))
    assert same["swaps"][0]["similarity"]["to_target"] > 0.99
    assert similarity["to_target"] < same["swaps"][0]["similarity"]["to_target"] - 0.02


def test_several_source_photos_are_averaged_into_one_identity(stand_in, t1_image, t1_faces):
    first, second = _embedding(20), _embedding(21)
    photo_a = [dataclasses.replace(face, embedding=first) for face in t1_faces]
    photo_b = [dataclasses.replace(face, embedding=second) for face in t1_faces]
    outputs, reports = swap_batch([t1_image, t1_image], [t1_image], [photo_a, photo_b], [t1_faces],
                                  SwapOptions(target_indices="2", blend=PLAIN), source_indices="0",
                                  average_sources=True)
    assert reports[0]["swaps"][0]["source"] == "average of 2 faces"
    averaged = swap_faces(t1_image, t1_faces, [Source(None, None, identity.average([first, second]))],
                          SwapOptions(target_indices="2", blend=PLAIN))[0]
    np.testing.assert_array_equal(outputs[0], averaged)


def test_identity_pairing_finds_the_reference_person(stand_in, t1_image, t1_faces):
    people = [_embedding(30 + index) for index in range(len(t1_faces))]
    targets = [dataclasses.replace(face, embedding=person) for face, person in zip(t1_faces, people)]
    _, report = swap_faces(t1_image, targets, [Source(None, None, _embedding(40))],
                           SwapOptions(pairing="identity", target_indices="all", blend=PLAIN),
                           reference=Reference(ARCFACE, (people[4] + 0.2 * _embedding(41),), ("person",)))
    assert [entry["target_index"] for entry in report["swaps"]] == [4]
