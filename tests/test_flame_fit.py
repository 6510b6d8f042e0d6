"""The landmark fitter: parameter recovery on the synthetic FLAME model, the Surrey Face Model on real
ground-truth landmarks, multi-photo fusion, and the FLAME nodes end to end."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

import flame_synthetic
from conftest import read_rgb, requires_face_mesh
from playalter.pipelines.core import config
from playalter.pipelines import models
from playalter.pipelines.core.errors import InvalidParameterError, ModelMissingError
from playalter.pipelines.engine.face import Face
from playalter.pipelines.flame.fitting import Camera, FitOptions, fit_landmarks, fit_views
from playalter.pipelines.flame.loading import load_flame
from playalter.pipelines.flame.model import from_flame, load_sfm


@pytest.fixture(scope="module")
def flame_path(tmp_path_factory, shared_fixtures):
    """The synthetic FLAME model on the real mean head. The landmark definition lives on FLAME's real
    topology; on the generated stand-in mesh its triangles join random vertices and no longer form a
    face, so fit-accuracy bounds are only meaningful here (skipped without ../shared)."""
    root = tmp_path_factory.mktemp("models")
    flame_synthetic.write_synthetic_flame(root / "flame" / "generic_model.pkl")
    return root


@pytest.fixture(scope="module")
def flame_model(flame_path):
    return from_flame(load_flame(flame_path / "flame" / "generic_model.pkl"))


CAMERA = Camera.for_image(1024, 1024)


def _angle_between(rotation_a, rotation_b) -> float:
    from playalter.pipelines.flame.lbs import rodrigues

    relative = rodrigues(rotation_a[None])[0].T @ rodrigues(rotation_b[None])[0]
    return float(np.degrees(np.arccos(np.clip((np.trace(relative) - 1) / 2, -1, 1))))


def _across_outline(fitted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """[17] distances of fitted contour points from the true jaw outline, across it (a contour point
    may slide along the outline: detectors place them only loosely along it)."""
    tangents = truth[np.minimum(np.arange(17) + 1, 16)] - truth[np.maximum(np.arange(17) - 1, 0)]
    normals = np.stack([-tangents[:, 1], tangents[:, 0]], axis=1) / np.linalg.norm(tangents, axis=1, keepdims=True)
    return np.abs(np.einsum("kc,kc->k", fitted - truth, normals))


@pytest.mark.parametrize("rotation", [(0, 0, 0), (5, 20, 3), (-10, -30, -5)])
def test_recovers_pose_and_landmarks_with_default_components(flame_model, rotation):
    rng = np.random.default_rng(abs(hash(rotation)) % 1000)
    truth = flame_synthetic.known_fit(flame_model, rng, CAMERA, 100, 50, rotation)
    clean = flame_synthetic.render_landmarks(flame_model, truth)
    observed = clean + rng.normal(size=clean.shape)  # 1 px noise
    fit = fit_landmarks(flame_model, observed, CAMERA)
    inter_ocular = np.linalg.norm(clean[36] - clean[45])
    error = np.linalg.norm(fit.landmarks_2d - clean, axis=1)  # [68] pixels, against the noise-free points
    assert error[17:].mean() < 0.01 * inter_ocular
    # contour points are candidate vertices (FLAME's jaw vertices are ~5 mm apart): 2 % across the outline
    assert _across_outline(fit.landmarks_2d[:17], clean[:17]).mean() < 0.02 * inter_ocular
    assert _angle_between(fit.rotation, truth.rotation) < 2.0
    assert abs(fit.jaw[0] - truth.jaw[0]) < np.radians(2.0)
    assert fit.normalised_error < 0.02


def test_recovers_coefficients_when_they_are_identifiable(flame_model):
    rng = np.random.default_rng(3)
    truth = flame_synthetic.known_fit(flame_model, rng, CAMERA, 5, 3, (8, -15, 2))
    observed = flame_synthetic.render_landmarks(flame_model, truth) + rng.normal(size=(68, 2))
    fit = fit_landmarks(flame_model, observed, CAMERA, options=FitOptions(n_shape=5, n_expression=3))
    np.testing.assert_allclose(fit.shape, truth.shape, atol=0.35)
    np.testing.assert_allclose(fit.expression, truth.expression, atol=0.35)
    assert np.abs(fit.shape - truth.shape).mean() < 0.15
    assert _angle_between(fit.rotation, truth.rotation) < 1.0
    assert (fit.shape_std > 0).all() and (fit.shape_std < 1).all()


def test_fusing_photos_of_one_person_shares_and_improves_the_shape(flame_model):
    rng = np.random.default_rng(11)
    truth = flame_synthetic.known_fit(flame_model, rng, CAMERA, 30, 10, (0, 0, 0))
    observations, single_errors = [], []
    options = FitOptions(n_shape=30, n_expression=10)
    for rotation in ((0, -25, 0), (5, 0, 2), (-5, 25, -3)):
        view = flame_synthetic.known_fit(flame_model, rng, CAMERA, 30, 10, rotation)
        view.shape = truth.shape
        points = flame_synthetic.render_landmarks(flame_model, view) + rng.normal(size=(68, 2))
        observations.append((points, np.ones(68), CAMERA))
        single = fit_landmarks(flame_model, points, CAMERA, options=options)
        single_errors.append(np.linalg.norm(single.shape - truth.shape))
    fused = fit_views(flame_model, observations, options)
    assert all(np.array_equal(fused[0].shape, other.shape) for other in fused[1:])
    assert np.linalg.norm(fused[0].shape - truth.shape) < min(single_errors)


def test_weights_ignore_occluded_points(flame_model):
    rng = np.random.default_rng(5)
    truth = flame_synthetic.known_fit(flame_model, rng, CAMERA, 100, 50, (0, 10, 0))
    clean = flame_synthetic.render_landmarks(flame_model, truth)
    observed = clean.copy()
    observed[48:68] += 60.0  # a hand over the mouth moved these far away
    weights = np.ones(68)
    weights[48:68] = 0.0
    fit = fit_landmarks(flame_model, observed, CAMERA, weights=weights)
    assert not fit.used[48:68].any()
    assert np.linalg.norm(fit.landmarks_2d[:48] - clean[:48], axis=1).mean() < 2.0


def _read_pts(path):
    lines = path.read_text().split("{")[1].split("}")[0].split()
    return np.asarray(lines, dtype=np.float64).reshape(68, 2)


def test_surrey_face_model_fits_real_ground_truth_landmarks(shared_fixtures):
    sfm = shared_fixtures / "sfm"
    model = load_sfm(sfm / "sfm_3448.npz", sfm / "sfm_model_contours.json")
    points = _read_pts(shared_fixtures / "faces" / "ibug300w_image_0010.pts")
    import cv2

    height, width = cv2.imread(str(shared_fixtures / "faces" / "ibug300w_image_0010.png")).shape[:2]
    camera = Camera.for_image(width, height)
    fit = fit_landmarks(model, points, camera, options=FitOptions(n_shape=63, n_expression=6))
    assert fit.used.sum() == 66  # 50 mapped points + 16 contour points (iBUG 61 and 65 are not in the SFM)
    assert fit.normalised_error < 0.05
    assert np.isfinite(fit.shape).all() and np.abs(fit.shape).max() < 4.0


def test_five_keypoints_give_a_rigid_fit_of_the_mean_face(flame_model):
    rng = np.random.default_rng(2)
    truth = flame_synthetic.known_fit(flame_model, rng, CAMERA, 100, 50, (0, 15, 0), jaw=0.0)
    truth.shape[:] = 0.0
    truth.expression[:] = 0.0
    clean = flame_synthetic.render_landmarks(flame_model, truth)
    from playalter.pipelines.flame.schemes import from_5

    kps = np.array([clean[36:42].mean(axis=0), clean[42:48].mean(axis=0), clean[30], clean[48], clean[54]])
    points, weights = from_5(kps)
    fit = fit_landmarks(flame_model, points, CAMERA, weights=weights)
    assert not fit.shape.any()  # too few points for anything but the pose
    assert _angle_between(fit.rotation, truth.rotation) < 5.0


# --- nodes -------------------------------------------------------------------------------------------

@pytest.fixture
def with_flame(monkeypatch, flame_path, tmp_path):
    monkeypatch.setenv(models.MODELS_DIR_ENV, str(flame_path))
    monkeypatch.setenv("PLAYALTER__PATHS__OUTPUT_DIR", str(tmp_path / "output"))
    config.reset_settings()
    yield tmp_path / "output"
    config.reset_settings()


def _faces_for(flame_model, rotations):
    rng = np.random.default_rng(9)
    faces = []
    for rotation in rotations:
        truth = flame_synthetic.known_fit(flame_model, rng, CAMERA, 100, 50, rotation, distance=0.8)
        points = flame_synthetic.render_landmarks(flame_model, truth)
        box = np.array([*points.min(axis=0), *points.max(axis=0)])
        kps = np.array([points[36:42].mean(axis=0), points[42:48].mean(axis=0), points[30], points[48], points[54]])
        faces.append(Face(bbox=box, score=0.99, kps=kps, landmarks=points, landmark_scheme="68", sex="F"))
    return faces


def test_fit_node_outputs_fits_preview_json_and_meshes(with_flame, flame_model):
    torch = pytest.importorskip("torch")
    from playalter.nodes.flame import PlayAlterFaceMeasurements, PlayAlterFLAMEFit

    image = torch.zeros((1, 1024, 1024, 3))
    faces = [_faces_for(flame_model, [(0, -20, 0), (0, 20, 0)])]
    fits, preview, text = PlayAlterFLAMEFit().fit(image, faces, 100, 50, 50.0, export_mesh="obj+ply")
    assert len(fits) == 1 and len(fits[0]) == 2
    fit = fits[0][0]
    assert fit.vertices.shape == (5023, 3) and fit.vertices_2d.shape == (5023, 2) and fit.triangles.shape == (9976, 3)
    box = faces[0][0].bbox
    assert box[0] - 40 < np.median(fit.vertices_2d[:, 0]) < box[2] + 40
    assert preview.shape == (1, 1024, 1024, 3) and float(preview.max()) > 0  # wireframe drawn over black
    payload = json.loads(text)
    assert payload[0][1]["normalised_error"] < 0.02 and len(payload[0][1]["shape"]) == 100
    obj = with_flame / "flame" / "flame_fit_000_00.obj"
    assert obj.read_text().count("\nv ") == 5023
    ply = (with_flame / "flame" / "flame_fit_000_01.ply").read_bytes()
    assert b"element vertex 5023" in ply and b"element face 9976" in ply
    measurements, measurements_json = PlayAlterFaceMeasurements().measure(flame_fit=fits, faces=faces)
    assert len(measurements) == 2 and measurements[0]["method"] == "flame_model"
    values = measurements[0]["measurements"]
    assert 60 < values["interpupillary_distance"]["value_mm"] < 66
    assert "own_sex" in values["outercanthal_width"]["z_scores"]
    assert json.loads(measurements_json)[1]["face"] == 1



def test_fit_node_writes_its_meshes_into_the_run_s_output_folder(with_flame, flame_model, tmp_path):
    """A runner or HTTP run gives each run its own output folder: the meshes go there, not into the
    settings' shared one (where another user's run would find them)."""
    torch = pytest.importorskip("torch")
    from playalter.nodes import compat
    from playalter.nodes.flame import PlayAlterFLAMEFit

    run_output = tmp_path / "this_run"
    compat.set_folders(None, run_output)
    try:
        PlayAlterFLAMEFit().fit(torch.zeros((1, 512, 512, 3)), [_faces_for(flame_model, [(0, 0, 0)])], 100, 50, 50.0,
                                export_mesh="obj")
    finally:
        compat.set_folders(None, None)
    assert (run_output / "flame" / "flame_fit_000_00.obj").is_file()
    assert not (with_flame / "flame").exists()

def test_fit_node_without_flame_gives_the_model_error_but_measurements_fall_back(monkeypatch, tmp_path, flame_model):
    from playalter.nodes.flame import PlayAlterFaceMeasurements, PlayAlterFLAMEFit

    monkeypatch.setenv(models.MODELS_DIR_ENV, str(tmp_path))
    monkeypatch.chdir(tmp_path)
    config.reset_settings()
    faces = [_faces_for(flame_model, [(0, 0, 0)])]
    with pytest.raises(ModelMissingError, match="flame.is.tue.mpg.de"):
        PlayAlterFLAMEFit().fit(np.zeros((1, 64, 64, 3), np.float32), faces, 100, 50, 50.0)
    measurements, _ = PlayAlterFaceMeasurements().measure(faces=faces)
    assert measurements[0]["method"] == "landmark_estimate"
    assert measurements[0]["measurements"]["interpupillary_distance"]["value_mm"] == 63.0
    config.reset_settings()


def test_batches_stay_parallel_to_faces_and_fusion_shares_one_shape(flame_model):
    from playalter.pipelines.flame.api import fit_batch

    faces = [_faces_for(flame_model, [(0, -15, 0)]), [], _faces_for(flame_model, [(0, 15, 0), (5, 0, 0)])]
    sizes = [(1024, 1024)] * 3
    separate = fit_batch(sizes, faces, flame_model)
    assert [len(image_fits) for image_fits in separate] == [1, 0, 2]
    assert not np.array_equal(separate[2][0].shape, separate[2][1].shape)
    fused = fit_batch(sizes, faces, flame_model, fuse_person=True)
    assert [len(image_fits) for image_fits in fused] == [1, 0, 2]
    np.testing.assert_array_equal(fused[0][0].shape, fused[2][1].shape)


# --- dense (MediaPipe 468) landmarks ------------------------------------------------------------------

def test_dense_points_recover_shape_at_least_as_well_as_68(flame_model):
    rng = np.random.default_rng(21)
    results = [flame_synthetic.shape_recovery(flame_model, rng, CAMERA, rotation)
               for rotation in ((0, 0, 0), (5, 20, 3), (-10, -30, -5), (0, 45, 0))]
    coefficient = {name: np.mean([result[name][0] for result in results]) for name in ("ibug68", "dense")}
    mesh_mm = {name: np.mean([result[name][1] for result in results]) for name in ("ibug68", "dense")}
    assert coefficient["dense"] <= coefficient["ibug68"]
    assert mesh_mm["dense"] <= mesh_mm["ibug68"]
    assert mesh_mm["dense"] < 2.5  # mean face-vertex error, mm, 1 px noise


@pytest.mark.parametrize("rotation", [(0, 0, 0), (-10, -30, -5), (5, 50, 0)])
def test_dense_fit_recovers_pose_and_culls_the_far_side(flame_model, rotation):
    rng = np.random.default_rng(7)
    truth = flame_synthetic.known_fit(flame_model, rng, CAMERA, 100, 50, rotation)
    clean = flame_synthetic.render_dense(flame_model, truth)
    fit = fit_landmarks(flame_model, clean + rng.normal(size=clean.shape), CAMERA, embedding=flame_model.dense)
    assert fit.landmark_set == "mediapipe468" and fit.landmarks_2d.shape == clean.shape
    error = np.linalg.norm(fit.landmarks_2d - clean, axis=1)[fit.used]
    inter_ocular = np.linalg.norm(clean[flame_model.dense.eye_corners[0]] - clean[flame_model.dense.eye_corners[1]])
    assert error.mean() < 0.01 * inter_ocular
    assert _angle_between(fit.rotation, truth.rotation) < 2.0
    culled = ~fit.used
    if abs(rotation[1]) < 30:
        assert culled.sum() < 0.05 * len(culled)  # only a few grazing outline points
    else:  # the far cheek: many points, nearly all on one side of the face
        side = np.einsum("lk,lk->l", flame_model.dense.weights, flame_model.mean[flame_model.dense.vertices][:, :, 0])
        assert culled.sum() > 0.05 * len(culled)
        assert max((side[culled] < 0).mean(), (side[culled] > 0).mean()) > 0.9


def test_dense_fit_recovers_coefficients_when_they_are_identifiable(flame_model):
    rng = np.random.default_rng(3)
    truth = flame_synthetic.known_fit(flame_model, rng, CAMERA, 5, 3, (8, -15, 2))
    observed = flame_synthetic.render_dense(flame_model, truth)
    observed = observed + rng.normal(size=observed.shape)
    fit = fit_landmarks(flame_model, observed, CAMERA, options=FitOptions(n_shape=5, n_expression=3),
                        embedding=flame_model.dense)
    np.testing.assert_allclose(fit.shape, truth.shape, atol=0.2)
    np.testing.assert_allclose(fit.expression, truth.expression, atol=0.2)
    assert _angle_between(fit.rotation, truth.rotation) < 1.0


def test_fit_faces_uses_the_dense_mesh_when_a_face_has_one(flame_model):
    from playalter.pipelines.flame.api import fit_faces

    rng = np.random.default_rng(4)
    truth = flame_synthetic.known_fit(flame_model, rng, CAMERA, 100, 50, (0, 20, 0))
    mesh = np.zeros((468, 3))
    mesh[flame_model.dense.source, :2] = flame_synthetic.render_dense(flame_model, truth)
    sparse = flame_synthetic.render_landmarks(flame_model, truth)
    kps = np.array([sparse[36:42].mean(axis=0), sparse[42:48].mean(axis=0), sparse[30], sparse[48], sparse[54]])
    face = Face(bbox=np.array([*sparse.min(axis=0), *sparse.max(axis=0)]), score=0.9, kps=kps, landmarks=sparse,
                landmark_scheme="68", mesh=mesh)
    dense_fit, = fit_faces((1024, 1024), [face], flame_model)
    face.mesh = None
    sparse_fit, = fit_faces((1024, 1024), [face], flame_model)
    assert dense_fit.landmark_set == "mediapipe468" and len(dense_fit.landmarks_2d) == len(flame_model.dense)
    assert sparse_fit.landmark_set == "ibug68" and len(sparse_fit.landmarks_2d) == 68


@requires_face_mesh
@pytest.mark.parametrize("photo", ["exp_1.jpg", "ibug300w_image_0010.png"])  # yaw about +30 and -40 degrees
def test_dense_fit_on_a_real_photo_reprojects_the_mesh_and_turns_the_head_the_right_way(
        flame_model, shared_fixtures, photo):
    from playalter.pipelines.engine.detection.api import detect_faces
    from playalter.pipelines.flame.api import fit_faces
    from playalter.pipelines.flame.lbs import rodrigues

    image = read_rgb(shared_fixtures / "faces" / photo)
    face = detect_faces(image)[0]
    fit, = fit_faces((image.shape[1], image.shape[0]), [face], flame_model)
    assert fit.landmark_set == "mediapipe468"
    residuals = np.linalg.norm(fit.residuals, axis=1)
    used = np.isfinite(residuals)
    assert used.sum() > 350  # most dense points kept; the far cheek culled
    inter_ocular = np.linalg.norm(face.mesh[33, :2] - face.mesh[263, :2])
    assert residuals[used].mean() < 0.05 * inter_ocular
    rotation = rodrigues(fit.global_pose[None])[0]
    yaw = np.degrees(np.arctan2(rotation[0, 2], rotation[2, 2]))
    assert np.sign(yaw) == np.sign(face.pose[0]) and abs(yaw) > 15


def test_fit_node_refuses_a_bad_focal_length_and_faces_off_the_image_and_fits_no_components(with_flame, flame_model):
    torch = pytest.importorskip("torch")
    from playalter.nodes.flame import PlayAlterFLAMEFit

    image = torch.zeros((1, 1024, 1024, 3))
    face = _faces_for(flame_model, [(0, 0, 0)])[0]
    with pytest.raises(InvalidParameterError, match="focal_35mm must be a positive"):
        PlayAlterFLAMEFit().fit(image, [[face]], 100, 50, -5.0)
    one_spot = dataclasses.replace(face, kps=np.repeat(face.kps[:1], 5, axis=0))
    with pytest.raises(InvalidParameterError, match="face 0 of the image 0 has its five keypoints on one spot"):
        PlayAlterFLAMEFit().fit(image, [[one_spot]], 100, 50, 50.0)
    fits, _, _ = PlayAlterFLAMEFit().fit(image, [[face]], 0, 0, 50.0)  # the mean head, posed (FitOptions allow 0)
    assert len(fits[0]) == 1 and fits[0][0].shape.size == 0 and fits[0][0].expression.size == 0
