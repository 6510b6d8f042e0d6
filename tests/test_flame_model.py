"""FLAME loading (restricted unpickler, validation, registry), LBS, landmark definition, measurements."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

import flame_synthetic
from playalter.pipelines.core import config
from playalter.pipelines import models
from playalter.pipelines.core.errors import ModelCorruptError, ModelMissingError
from playalter.pipelines.flame import landmarks
from playalter.pipelines.flame.lbs import lbs, rodrigues
from playalter.pipelines.flame.loading import load_flame, load_registered_flame
from playalter.pipelines.flame.measurements import measure_landmarks, measure_mesh
from playalter.pipelines.engine.mesh_io import read_obj
from playalter.pipelines.engine.face import Face


@pytest.fixture(scope="module")
def flame_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "flame" / "generic_model.pkl"
    arrays = flame_synthetic.write_synthetic_flame(path)
    return path, arrays


@pytest.fixture
def models_dir(monkeypatch, tmp_path):
    monkeypatch.setenv(models.MODELS_DIR_ENV, str(tmp_path))
    monkeypatch.chdir(tmp_path)
    config.reset_settings()
    yield tmp_path
    config.reset_settings()


def test_chumpy_pickle_loads_without_chumpy(flame_file):
    path, arrays = flame_file
    model = load_flame(path)
    assert model.v_template.shape == (5023, 3) and model.f.shape == (9976, 3)
    assert model.shapedirs.shape == (5023, 3, 400) and model.n_expression == 100
    np.testing.assert_array_equal(model.shapedirs, arrays["shapedirs"])
    np.testing.assert_array_equal(model.J_regressor, arrays["J_regressor"])  # was a scipy CSC matrix
    np.testing.assert_array_equal(model.posedirs, arrays["posedirs"].reshape(-1, 36))
    assert model.kintree.tolist() == [-1, 0, 1, 1, 1]


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned_by_pickle",))


def test_malicious_pickle_is_refused_and_never_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "generic_model.pkl"
    path.write_bytes(pickle.dumps({"v_template": _Exploit()}, protocol=2))
    with pytest.raises(ModelCorruptError, match="refused to load: the file asks for '(posix|os|nt).system'"):
        load_flame(path)
    assert not (tmp_path / "pwned_by_pickle").exists()


def test_eval_via_builtins_is_refused(tmp_path):
    path = tmp_path / "generic_model.pkl"
    payload = b"\x80\x02cbuiltins\neval\nq\x00X\x0b\x00\x00\x00print('hi')q\x01\x85q\x02Rq\x03."
    path.write_bytes(payload)
    with pytest.raises(ModelCorruptError, match="builtins.eval"):
        load_flame(path)


def test_wrong_shapes_are_reported(tmp_path):
    arrays = flame_synthetic.synthetic_flame_arrays()
    arrays["shapedirs"] = arrays["shapedirs"][:, :, :50]
    path = tmp_path / "generic_model.pkl"
    path.write_bytes(pickle.dumps(arrays, protocol=2))
    with pytest.raises(ModelCorruptError, match="shapedirs.*300 shape \\+ 100 expression"):
        load_flame(path)


def test_missing_flame_names_licence_page_and_searched_paths(models_dir):
    with pytest.raises(ModelMissingError) as error:
        load_registered_flame()
    message = str(error.value)
    assert "FLAME 3D fitting needs the model 'flame'" in message
    assert "https://flame.is.tue.mpg.de/" in message
    assert str(models_dir / "flame" / "generic_model.pkl") in message


def test_registry_finds_flame2023(models_dir, flame_file):
    (models_dir / "flame").mkdir()
    (models_dir / "flame" / "flame2023.pkl").write_bytes(flame_file[0].read_bytes())
    assert load_registered_flame().v_template.shape == (5023, 3)


def test_numpy_lbs_matches_smplx(flame_file):
    torch = pytest.importorskip("torch")
    smplx_lbs = pytest.importorskip("smplx.lbs")
    model = load_flame(flame_file[0])
    rng = np.random.default_rng(7)
    coefficients = rng.normal(size=400)
    pose = rng.normal(scale=0.3, size=(5, 3))
    ours, joints = lbs(coefficients, pose, model.v_template, model.shapedirs, model.posedirs, model.J_regressor,
                       model.kintree, model.weights)

    def tensor(array):
        return torch.from_numpy(np.ascontiguousarray(array)).double()

    theirs, their_joints = smplx_lbs.lbs(
        tensor(coefficients)[None], tensor(pose.reshape(1, -1)), tensor(model.v_template), tensor(model.shapedirs),
        tensor(model.posedirs.T), tensor(model.J_regressor), torch.from_numpy(model.kintree), tensor(model.weights))
    np.testing.assert_allclose(ours, theirs[0].numpy(), atol=1e-10)
    np.testing.assert_allclose(joints, their_joints[0].numpy(), atol=1e-10)


def test_rodrigues_is_a_rotation():
    rotations = rodrigues(np.array([[0.0, 0.0, 0.0], [0.3, -0.2, 1.1]]))
    np.testing.assert_allclose(rotations[0], np.eye(3))
    np.testing.assert_allclose(rotations[1] @ rotations[1].T, np.eye(3), atol=1e-12)


@pytest.fixture(scope="module")
def mean_head(shared_fixtures):
    vertices, faces = read_obj(shared_fixtures / "flame" / "head_template.obj")
    return vertices, faces


def _ibug_points(vertices, faces):
    triangles = faces[np.asarray(landmarks.IBUG68_TRIANGLES)]  # [68,3]
    return np.einsum("lk,lkc->lc", np.asarray(landmarks.IBUG68_BARYCENTRIC), vertices[triangles])  # [68,3]


def test_68_points_form_a_plausible_face_on_the_mean_head(mean_head):
    points = _ibug_points(*mean_head)
    y = points[:, 1]
    brows = y[17:27].mean()
    eyes = y[36:48].mean()
    nose_base = y[31:36].mean()
    mouth = y[48:68].mean()
    chin = y[8]
    assert brows > eyes > y[30] > nose_base > mouth > chin
    assert y[27] > y[28] > y[29] > y[30]  # nose bridge runs downwards
    assert points[36, 0] < points[39, 0] < 0 < points[42, 0] < points[45, 0]  # subject's right eye at -x
    assert points[48, 0] < points[51, 0] < points[54, 0]
    assert points[30, 2] == points[:, 2].max()  # nose tip is the most anterior point
    mirrored = points[list(landmarks.MIRROR)] * np.array([-1.0, 1.0, 1.0])
    assert np.linalg.norm(points - mirrored, axis=1).max() < 0.002  # symmetric within 2 mm


def test_measurements_of_the_mean_head(mean_head):
    vertices, faces = mean_head
    values = measure_mesh(vertices, faces)
    assert values["outercanthal_width"]["value_mm"] == pytest.approx(90.0, abs=2.0)
    assert values["mouth_width"]["value_mm"] == pytest.approx(48.0, abs=2.0)
    assert values["interpupillary_distance"]["value_mm"] == pytest.approx(63.0, abs=2.0)
    assert len([item for item in values.values() if "value_mm" in item]) >= 16
    for item in values.values():
        assert item["definition"]
        assert item.get("uncertainty_mm", item.get("uncertainty")) is not None
    z = values["outercanthal_width"]["z_scores"]
    assert z["male"] == pytest.approx((values["outercanthal_width"]["value_mm"] - 88.9) / 3.5, abs=0.01)
    assert "Weinberg" in z["source"]


def test_measurements_refuse_other_topologies():
    with pytest.raises(Exception, match="5023 vertices"):
        measure_mesh(np.zeros((100, 3)), np.zeros((10, 3), dtype=int))


def test_landmark_only_fallback_scales_by_the_ipd_prior():
    kps = np.array([[100.0, 100.0], [160.0, 100.0], [130.0, 130.0], [110.0, 160.0], [150.0, 160.0]])
    face = Face(bbox=np.array([70.0, 60.0, 190.0, 200.0]), score=0.9, kps=kps)
    result = measure_landmarks(face)
    assert result["method"] == "landmark_estimate" and "assumed interpupillary distance" in result["note"]
    mouth = result["measurements"]["mouth_width"]
    assert mouth["value_mm"] == pytest.approx(63.0 * 40 / 60, abs=0.1)
    assert mouth["uncertainty_mm"] > 0.08 * mouth["value_mm"]


def test_landmark_only_fallback_with_68_points_measures_the_eye_corners():
    points = np.zeros((68, 2))
    points[36:42] = [[100, 100], [105, 97], [110, 97], [115, 100], [110, 103], [105, 103]]
    points[42:48] = points[36:42] + [60, 0]
    points[48], points[54] = [110, 160], [165, 160]
    face = Face(bbox=np.array([70.0, 60.0, 190.0, 200.0]), score=0.9, kps=np.zeros((5, 2)),
                landmarks=points, landmark_scheme="68")
    values = measure_landmarks(face)["measurements"]
    assert values["outercanthal_width"]["ratio_to_ipd"] == pytest.approx(75 / 60, abs=1e-3)
    assert values["mouth_width"]["value_mm"] == pytest.approx(63.0 * 55 / 60, abs=0.1)


def test_focal_length_comes_from_exif(tmp_path):
    from PIL import Image

    from playalter.pipelines.flame.api import focal_35mm_from_exif
    from playalter.pipelines.flame.fitting import DEFAULT_FOCAL_35MM, Camera

    image = Image.new("RGB", (400, 300))
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0xA405] = 28  # FocalLengthIn35mmFilm
    image.save(tmp_path / "phone.jpg", exif=exif)
    image.save(tmp_path / "plain.jpg")
    assert focal_35mm_from_exif(tmp_path / "phone.jpg") == 28.0
    assert focal_35mm_from_exif(tmp_path / "plain.jpg") is None
    assert Camera.for_image(400, 300, focal_35mm=28.0).focal == pytest.approx(28 / 36 * 400)
    assert Camera.for_image(400, 300).focal == pytest.approx(DEFAULT_FOCAL_35MM / 36 * 400)


def test_plain_numpy_pickle_of_any_protocol_loads(tmp_path):
    """FLAME 2023 files written by Python 3 hold plain numpy arrays."""
    arrays = flame_synthetic.synthetic_flame_arrays()
    for protocol in (2, 4, 5):
        path = tmp_path / f"flame2023_p{protocol}.pkl"
        path.write_bytes(pickle.dumps(arrays, protocol=protocol))
        model = load_flame(path)
        np.testing.assert_array_equal(model.weights, arrays["weights"])
