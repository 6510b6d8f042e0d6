"""Face restoration with generated stand-in models (tests/restore_models.py) having each real model's
signature: the crop and its alignment, the normalisation round trip, CodeFormer's fidelity input, paste-back
only inside the face outline, the strength blend, pixels outside the faces unchanged, clear errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from playalter.pipelines.core.errors import InvalidParameterError, ModelCorruptError, ModelMissingError
from playalter.pipelines.engine.detection import detect_faces
from playalter.pipelines.swap.blend import outline_mask, region
from playalter.pipelines.swap.choices import RESTORE_MODELS
from playalter.pipelines.swap.restore import network as networks
from playalter.pipelines.swap.restore.contracts import FFHQ_512, RESTORERS, template
from playalter.pipelines.swap.restore.faces import RestoreOptions, aligned_crop, restore_batch, restore_faces

from restore_models import build_restorer, install_restorer

SHARP = dict(feather=0.0)  # no feathering: every mask pixel takes the full strength


def _network(tmp_path, name: str, scale: float = 1.0, shift: float = 0.0) -> networks.Network:
    return networks.load(name, build_restorer(tmp_path / f"{name}.onnx", name, scale, shift))


def test_contracts_cover_every_choice_with_the_ffhq_template():
    assert tuple(RESTORERS) == RESTORE_MODELS
    assert [RESTORERS[name].size for name in RESTORE_MODELS] == [512, 512, 512, 1024, 512]
    assert [name for name in RESTORE_MODELS if RESTORERS[name].has_weight] == ["codeformer"]
    np.testing.assert_array_equal(template(512), FFHQ_512)
    np.testing.assert_allclose(template(1024), 2 * FFHQ_512)


def test_crop_puts_the_keypoints_on_the_template(t1_image, t1_faces):
    face = t1_faces[2]
    crop, matrix = aligned_crop(t1_image, face, 512)
    assert crop.shape == (512, 512, 3) and crop.dtype == np.uint8
    mapped = face.kps @ matrix[:, :2].T + matrix[:, 2]  # [5,2] in the crop
    eye_distance = np.linalg.norm(FFHQ_512[1] - FFHQ_512[0])
    assert np.abs(mapped - FFHQ_512).max() < 0.1 * eye_distance  # a similarity cannot fit 5 points exactly
    assert np.abs(mapped[:2].mean(0) - FFHQ_512[:2].mean(0)).max() < 0.05 * eye_distance
    # Each crop pixel is the image sampled where the inverse matrix sends it.
    inverse = cv2.invertAffineTransform(matrix)
    for x, y in ((256, 256), (200, 380), (320, 240)):
        source = inverse @ np.array([x, y, 1.0])
        sampled = cv2.getRectSubPix(t1_image, (1, 1), (float(source[0]), float(source[1])))[0, 0]
        assert np.abs(crop[y, x].astype(int) - sampled.astype(int)).max() <= 1


@pytest.mark.parametrize("name", RESTORE_MODELS)
def test_normalisation_round_trip_is_exact(tmp_path, t1_image, t1_faces, name):
    network = _network(tmp_path, name)  # output = input (weight 1 for CodeFormer)
    assert (network.image_input, network.output) == ("input", "output")
    assert network.weight_input == ("weight" if name == "codeformer" else None)
    crop, _ = aligned_crop(t1_image, t1_faces[1], RESTORERS[name].size)
    np.testing.assert_array_equal(networks.run(network, crop, fidelity=1.0), crop)
    blob = networks.to_blob(crop)
    assert blob.shape == (1, 3, crop.shape[0], crop.shape[1]) and blob.dtype == np.float32
    assert blob.min() >= -1.0 and blob.max() <= 1.0
    np.testing.assert_allclose(blob[0, :, 10, 20], crop[10, 20] / 127.5 - 1, atol=1e-6)  # RGB order kept


def test_output_outside_minus_one_to_one_is_clipped(tmp_path, t1_image, t1_faces):
    network = _network(tmp_path, "gfpgan_1.4", scale=1.0, shift=3.0)  # every value above 1
    crop, _ = aligned_crop(t1_image, t1_faces[0], 512)
    assert (networks.run(network, crop) == 255).all()


def test_codeformer_fidelity_reaches_its_weight_input(tmp_path, t1_image, t1_faces):
    network = _network(tmp_path, "codeformer")  # output = weight * input
    crop, _ = aligned_crop(t1_image, t1_faces[3], 512)
    halved = networks.run(network, crop, fidelity=0.5)
    expected = np.rint((0.5 * (crop / 127.5 - 1) + 1) * 127.5)
    assert np.abs(halved.astype(float) - expected).max() <= 1
    assert np.abs(halved.astype(int) - crop).mean() > 10


def test_a_model_with_the_wrong_signature_is_refused(tmp_path):
    gpen_512 = build_restorer(tmp_path / "gpen_bfr_512.onnx", "gpen_bfr_512")
    with pytest.raises(ModelCorruptError, match="takes 512 x 512 px crops, but GPEN-BFR 1024 takes 1024"):
        networks.load("gpen_bfr_1024", gpen_512)
    with pytest.raises(ModelCorruptError, match="no 'weight' input"):
        networks.load("codeformer", gpen_512)
    with pytest.raises(InvalidParameterError, match="unknown; choose one of gfpgan_1.4"):
        networks.load("gfpgan_9", gpen_512)


def test_paste_back_only_inside_the_face_outline(tmp_path, t1_image, t1_faces):
    network = _network(tmp_path, "gpen_bfr_512", scale=-1.0)  # inverts every colour: 255 - pixel
    face = t1_faces[2]
    output, report = restore_faces(t1_image, [face], RestoreOptions("gpen_bfr_512", **SHARP), network)
    changed = np.any(output != t1_image, axis=2)
    x0, y0, x1, y1 = region(face, t1_image.shape)
    outline = np.zeros(changed.shape, bool)
    outline[y0:y1, x0:x1] = outline_mask(face, x0, y0, (y1 - y0, x1 - x0))
    assert not (changed & ~outline).any()  # nothing outside the outline
    assert changed.sum() > 0.9 * outline.sum() and report["faces"][0]["changed_pixels"] >= changed.sum()
    np.testing.assert_array_equal(output[~outline], t1_image[~outline])
    # Inside: the inverted face comes back in place, so alignment and its inverse agree.
    error = np.abs(output[changed].astype(float) - (255 - t1_image[changed].astype(float)))
    assert np.median(error) < 3.0


def test_identity_stand_in_returns_the_face(tmp_path, t1_image, t1_faces):
    network = _network(tmp_path, "restoreformer_plus_plus")
    output, _ = restore_faces(t1_image, t1_faces, RestoreOptions("restoreformer_plus_plus"), network)
    difference = np.abs(output.astype(int) - t1_image)
    assert np.median(difference[difference.any(axis=2)]) <= 2  # resampling there and back only
    assert difference.mean() < 0.2


def test_strength_blends_restored_with_unrestored(tmp_path, t1_image, t1_faces):
    network = _network(tmp_path, "gfpgan_1.4", scale=-1.0)
    faces = t1_faces[:3]
    untouched, report = restore_faces(t1_image, faces, RestoreOptions(strength=0.0), network)
    np.testing.assert_array_equal(untouched, t1_image)
    assert all(entry["changed_pixels"] == 0 for entry in report["faces"])
    full, _ = restore_faces(t1_image, faces, RestoreOptions(strength=1.0, **SHARP), network)
    half, _ = restore_faces(t1_image, faces, RestoreOptions(strength=0.5, **SHARP), network)
    inside = np.any(full != t1_image, axis=2)
    midway = (t1_image[inside].astype(float) + full[inside]) / 2
    assert np.abs(half[inside].astype(float) - midway).max() <= 1
    np.testing.assert_array_equal(half[~inside], t1_image[~inside])


def test_feathering_fades_inward_from_the_outline(tmp_path, t1_image, t1_faces):
    network = _network(tmp_path, "gfpgan_1.4", scale=-1.0)
    face = t1_faces[2]
    sharp, _ = restore_faces(t1_image, [face], RestoreOptions(**SHARP), network)
    soft, _ = restore_faces(t1_image, [face], RestoreOptions(feather=0.06), network)
    sharp_change = np.abs(sharp.astype(int) - t1_image).sum(axis=2)
    soft_change = np.abs(soft.astype(int) - t1_image).sum(axis=2)
    assert ((soft_change > 0) <= (sharp_change > 0)).all()  # same mask or inside it
    assert soft_change.sum() < 0.9 * sharp_change.sum()
    cx, cy = face.kps[2].astype(int)  # the nose: deep inside, fully restored either way
    assert abs(int(soft_change[cy, cx]) - int(sharp_change[cy, cx])) <= 3


def test_only_the_given_faces_are_restored_in_a_batch(tmp_path, t1_image, t1_faces, astronaut_image,
                                                      monkeypatch):
    install_restorer(tmp_path / "models", monkeypatch, "gpen_bfr_1024", scale=-1.0)
    astronaut_faces = detect_faces(astronaut_image)
    assert len(astronaut_faces) == 1
    outputs, reports = restore_batch([t1_image, astronaut_image], [t1_faces[4:5], astronaut_faces],
                                     RestoreOptions("gpen_bfr_1024", **SHARP))
    assert [len(report["faces"]) for report in reports] == [1, 1]
    for output, image, faces in ((outputs[0], t1_image, t1_faces), (outputs[1], astronaut_image, astronaut_faces)):
        for index, face in enumerate(faces):
            x1, y1, x2, y2 = face.bbox.astype(int)
            changed = np.abs(output[y1:y2, x1:x2].astype(int) - image[y1:y2, x1:x2]).mean() > 20
            assert changed == (image is astronaut_image or index == 4), index
    with pytest.raises(InvalidParameterError, match="FACES describe 1 images but the IMAGE batch has 2"):
        restore_batch([t1_image, astronaut_image], [t1_faces], RestoreOptions("gpen_bfr_1024"))


def test_missing_model_names_the_folder_and_how_to_get_it(tmp_path, monkeypatch, t1_image, t1_faces):
    from playalter.pipelines.core import config

    monkeypatch.setenv("PLAYALTER_MODELS_DIR", str(tmp_path / "empty"))
    config.reset_settings()
    with pytest.raises(ModelMissingError, match=r"face restoration \(GPEN-BFR 512\)") as error:
        restore_batch([t1_image], [t1_faces], RestoreOptions("gpen_bfr_512"))
    message = str(error.value)
    folder = tmp_path / "empty" / "facerestore_models"
    assert str(folder / "GPEN-BFR-512.onnx") in message and str(folder / "gpen_bfr_512.onnx") in message
    assert "ComfyUI/models/facerestore_models/" in message and "playalter models fetch gpen_bfr_512" in message


def test_reactor_file_names_are_found(tmp_path, monkeypatch):
    from playalter.pipelines.core import config

    path = build_restorer(tmp_path / "facerestore_models" / "RestoreFormer_PP.onnx", "restoreformer_plus_plus")
    monkeypatch.setenv("PLAYALTER_MODELS_DIR", str(tmp_path))
    config.reset_settings()
    assert networks.model_path("restoreformer_plus_plus") == path


@pytest.mark.parametrize("field, value", [("strength", 1.5), ("fidelity", -0.1), ("feather", "a"),
                                          ("model", "gfpgan")])
def test_bad_options_are_clear_errors(field, value):
    with pytest.raises(InvalidParameterError, match="restore|unknown"):
        RestoreOptions(**{field: value})


def test_a_long_or_odd_value_is_quoted_short():
    with pytest.raises(InvalidParameterError) as long_name:
        RestoreOptions(model="g" * 5000)
    assert len(str(long_name.value)) < 200
    with pytest.raises(InvalidParameterError, match="unknown"):
        RestoreOptions(model=["gfpgan_1.4"])
