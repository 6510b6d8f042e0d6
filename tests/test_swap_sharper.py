"""Sharper swaps with generated stand-ins of every swap model (tests/swap_models.py): the pixel-boost grid,
output sizes, the 256-px models' crops and value ranges, the swap weight, and the paste-back."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from playalter.pipelines.core.errors import InvalidParameterError, ModelCorruptError, ModelMissingError
from playalter.pipelines.engine import align
from playalter.pipelines.swap import identity, inswapper, pixel_boost, swappers
from playalter.pipelines.swap.blend import BlendOptions, blend
from playalter.pipelines.swap.choices import SWAP_MODELS
from playalter.pipelines.swap.pipeline import Source, SwapOptions, swap_faces
from playalter.pipelines.swap.request import swap_request

from swap_models import STAND_INS, build_swapper, colour_of, install_swapper

PLAIN = BlendOptions(color="none", feather=0.0, occlusion=False, mouth=False, sharpen=0.0)


@pytest.fixture
def models_root(tmp_path, monkeypatch):
    """An empty models folder the registry reads; stand-ins are installed into it by each test."""
    inswapper._cache.clear()
    root = tmp_path / "models"
    install = lambda name, mix=0.5: install_swapper(root, monkeypatch, name, mix)  # noqa: E731
    yield install
    inswapper._cache.clear()


def _embedding(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=512).astype(np.float32)
    return vector / np.linalg.norm(vector)


def test_every_offered_model_has_a_contract_and_a_stand_in():
    assert set(SWAP_MODELS) == {"auto", *swappers.CONTRACTS} == {"auto", *STAND_INS}


# --- the pixel-boost grid -----------------------------------------------------------------------

def test_split_takes_the_interleaved_sub_images_and_join_puts_them_back():
    crop = np.random.default_rng(0).integers(0, 256, (512, 512, 3), dtype=np.uint8)
    tiles = pixel_boost.split(crop, 4)
    assert len(tiles) == 16 and all(tile.shape == (128, 128, 3) for tile in tiles)
    np.testing.assert_array_equal(tiles[1 * 4 + 3], crop[1::4, 3::4])
    np.testing.assert_array_equal(pixel_boost.join(tiles, 4), crop)


@pytest.mark.parametrize("output_size, model_size, k", [(128, 128, 1), (256, 128, 2), (512, 128, 4), (512, 256, 2)])
def test_grid_factor(output_size, model_size, k):
    assert pixel_boost.factor(output_size, model_size) == k


@pytest.mark.parametrize("output_size", [128, 384])
def test_a_size_the_model_cannot_tile_is_refused(output_size):
    with pytest.raises(InvalidParameterError, match="256-px"):
        pixel_boost.factor(output_size, 256)


@pytest.mark.parametrize("name, side", [("inswapper_128", 512), ("reswapper_256", 512), ("hyperswap_1a_256", 512),
                                        ("hyperswap_1b_256", 256)])
def test_an_identity_model_gives_the_crop_back_through_the_grid(models_root, t1_image, t1_faces, name, side):
    """mix 0: the stand-in returns its input, so the grid, both value ranges and the reassembly are exact."""
    models_root(name, mix=0.0)
    swapper = inswapper.load(model=name)
    aligned, _ = inswapper.crop(swapper, t1_image, t1_faces[2].kps, side)  # [side,side,3]
    identity_vector = inswapper.identity_input(swapper, _embedding(1))
    np.testing.assert_array_equal(inswapper.render(swapper, aligned, identity_vector), aligned)


@pytest.mark.parametrize("name", ["inswapper_128", "hyperswap_1c_256"])
def test_every_sub_image_is_swapped_with_the_identity(models_root, t1_image, t1_faces, name):
    weights = models_root(name)
    swapper = inswapper.load(model=name)
    aligned, _ = inswapper.crop(swapper, t1_image, t1_faces[2].kps, 512)
    identity_vector = inswapper.identity_input(swapper, _embedding(2))
    swapped = inswapper.render(swapper, aligned, identity_vector)  # [512,512,3]
    # both stand-ins give 0.5 * crop + 0.5 * colour in 0..1 (the -1..1 one once mapped back)
    expected = 0.5 * aligned / 255.0 + 0.5 * colour_of(identity_vector, weights["colour_weights"])
    assert swapped.shape == (512, 512, 3)
    assert np.abs(swapped.astype(float) - np.rint(expected * 255)).max() <= 1


# --- the 256-px models' contracts ------------------------------------------------------------------

def test_hyperswap_receives_the_normalised_embedding_and_signed_pixels(models_root):
    models_root("hyperswap_1a_256")
    swapper = inswapper.load(model="hyperswap_1a_256")
    assert swapper.emap is None and swapper.contract.size == 256
    np.testing.assert_allclose(inswapper.identity_input(swapper, 3.0 * _embedding(3))[0], _embedding(3), atol=1e-6)
    crop = np.array([[[0, 255, 51]]], np.uint8)
    np.testing.assert_allclose(inswapper.target_blob(crop, "signed")[:, :, 0, 0], [[-1.0, 1.0, -0.6]], atol=1e-6)


def test_reswapper_receives_the_emap_latent(models_root):
    weights = models_root("reswapper_256")
    swapper = inswapper.load(model="reswapper_256")
    np.testing.assert_array_equal(swapper.emap, weights["emap"])
    np.testing.assert_allclose(inswapper.identity_input(swapper, _embedding(4)),
                               inswapper.source_latent(_embedding(4), weights["emap"]), atol=1e-6)


@pytest.mark.parametrize("name, side, shift", [("inswapper_128", 128, 0.0), ("inswapper_128", 512, 0.0),
                                               ("reswapper_256", 256, 0.5), ("reswapper_256", 512, 1.0),
                                               ("hyperswap_1a_256", 512, 0.0)])
def test_the_crop_puts_the_five_points_on_the_models_template(models_root, name, side, shift):
    models_root(name)
    swapper = inswapper.load(model=name)
    wanted = align.template(side) + shift  # [5,2]: the model's template scaled to the side, plus its shift
    kps = (wanted - 40.0) * 1.7 + (300.0, 120.0)  # a face elsewhere in a bigger image
    _, matrix = inswapper.crop(swapper, np.zeros((800, 800, 3), np.uint8), kps, side)
    np.testing.assert_allclose(kps @ matrix[:, :2].T + matrix[:, 2], wanted, atol=1e-3)


def test_a_model_of_another_size_is_refused(tmp_path):
    path = tmp_path / "hyperswap_1a_256.onnx"
    build_swapper(path, size=128, signed=True, emap=False, mask=True)
    with pytest.raises(ModelCorruptError, match="128-px faces, expected 256"):
        inswapper.load(path, model="hyperswap_1a_256")


# --- choosing the model, output size and report ----------------------------------------------------

def test_auto_prefers_a_256_model_and_reports_model_and_size(models_root, t1_image, t1_faces):
    models_root("inswapper_128")
    source = [Source(None, None, _embedding(5))]
    _, first = swap_faces(t1_image, t1_faces, source, SwapOptions(target_indices="2", blend=PLAIN))
    assert (first["swaps"][0]["model"], first["swaps"][0]["output_size"]) == ("inswapper_128", 128)
    models_root("reswapper_256")
    inswapper._cache.clear()
    _, second = swap_faces(t1_image, t1_faces, source, SwapOptions(target_indices="2", blend=PLAIN))
    assert (second["swaps"][0]["model"], second["swaps"][0]["output_size"]) == ("reswapper_256", 256)
    assert second["reason"] == "reswapper_256.onnx found"
    _, chosen = swap_faces(t1_image, t1_faces, source, SwapOptions(target_indices="2", blend=PLAIN, output_size=512,
                                                                   swap_model="inswapper_128"))
    assert (chosen["swaps"][0]["model"], chosen["swaps"][0]["output_size"]) == ("inswapper_128", 512)


def test_a_named_model_that_is_missing_is_a_clear_error(models_root, t1_image, t1_faces):
    models_root("inswapper_128")
    with pytest.raises(ModelMissingError, match="hyperswap_1b_256") as error:
        swap_faces(t1_image, t1_faces, [Source(None, None, _embedding(6))], SwapOptions(swap_model="hyperswap_1b_256"))
    assert "hyperswap" in str(error.value) and "huggingface.co/facefusion" in str(error.value)


@pytest.mark.parametrize("name, size", [("inswapper_128", 512), ("hyperswap_1a_256", 256)])
def test_pixels_outside_the_face_mask_are_unchanged(models_root, t1_image, t1_faces, name, size):
    weights = models_root(name)
    source = [Source(None, None, _embedding(7))]
    output, report = swap_faces(t1_image, t1_faces, source,
                                SwapOptions(target_indices="2", blend=PLAIN, output_size=size))
    swapper = inswapper.load(model=name)
    patch = inswapper.swap(swapper, t1_image, t1_faces[2], _embedding(7), size)
    mask = blend(t1_image, patch, t1_faces[2], PLAIN).mask
    assert report["swaps"][0]["changed_pixels"] == mask.sum() > 0.5 * t1_faces[2].width * t1_faces[2].height
    np.testing.assert_array_equal(output[~mask], t1_image[~mask])
    colour = colour_of(inswapper.identity_input(swapper, _embedding(7)), weights["colour_weights"]) * 255
    error = np.abs(output[mask].astype(float) - (0.5 * t1_image[mask] + 0.5 * colour))
    assert np.median(error) < 3.0  # inside: the original pixels came back in place, half mixed with the colour


# --- the swap weight -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["inswapper_128", "hyperswap_1a_256"])
def test_weight_blends_the_identity_the_model_receives(models_root, name):
    models_root(name)
    swapper = inswapper.load(model=name)
    source, target = _embedding(8), _embedding(9)
    received = lambda weight: inswapper.identity_input(  # noqa: E731
        swapper, inswapper.blended_embedding(source, target, weight))
    np.testing.assert_allclose(received(0.0), inswapper.identity_input(swapper, target), atol=1e-6)
    np.testing.assert_allclose(received(1.0), inswapper.identity_input(swapper, source), atol=1e-6)
    halfway = (source + target) / np.linalg.norm(source + target)
    np.testing.assert_allclose(received(0.5), inswapper.identity_input(swapper, halfway), atol=1e-6)


def test_weight_zero_swaps_in_the_targets_own_identity(models_root, t1_image, t1_faces):
    models_root("inswapper_128")
    faces = [dataclasses.replace(face, embedding=_embedding(20 + number)) for number, face in enumerate(t1_faces)]
    source = [Source(None, None, _embedding(10))]
    options = SwapOptions(target_indices="2", blend=PLAIN, similarity_report=False)
    weighted, report = swap_faces(t1_image, faces, source, dataclasses.replace(options, swap_weight=0.0))
    own, _ = swap_faces(t1_image, faces, [Source(None, None, _embedding(22))], options)
    np.testing.assert_array_equal(weighted, own)
    assert report["swaps"][0]["swap_weight"] == 0.0
    full, _ = swap_faces(t1_image, faces, source, options)
    assert np.abs(full.astype(int) - weighted).max() > 10


def test_weight_below_one_without_the_targets_embedding_is_a_clear_error(models_root, t1_image, t1_faces):
    if identity.recognition_available():
        pytest.skip("buffalo_l is installed here, so the target's embedding can be computed")
    models_root("inswapper_128")
    with pytest.raises(InvalidParameterError, match="target face's ArcFace embedding"):
        swap_faces(t1_image, t1_faces, [Source(None, None, _embedding(11))],
                   SwapOptions(target_indices="2", swap_weight=0.5))


@pytest.mark.parametrize("values, message", [
    ({"output_size": 384}, "output size 384 is not offered"),
    ({"output_size": "256"}, "output_size must be 128, 256 or 512"),
    ({"swap_weight": 1.5}, "swap weight must be between 0 and 1"),
    ({"swap_weight": "1"}, "swap_weight must be a number from 0 to 1"),
    ({"swap_model": "simswap_256"}, "swap model 'simswap_256' is unknown"),
])
def test_bad_options_are_clear_errors(values, message):
    with pytest.raises(InvalidParameterError, match=message):
        swap_request(values)
