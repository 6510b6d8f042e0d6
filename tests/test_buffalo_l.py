"""The buffalo_l path (SCRFD, 106 / 68-3D landmarks, sex/age, ArcFace) on tiny stand-in models.

``onnx_models`` builds models with the real files' names and shapes whose outputs are known
by design, so these tests check our pre- and post-processing exactly: letterboxing, the RGB
channel order, input normalisation, anchor decoding per stride, crop geometry, landmark and
embedding wiring, provider choice and the missing-model errors.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest

import onnx_models
from playalter.pipelines.engine import align, recognition
from playalter.pipelines.models import buffalo
from playalter.pipelines.core import config
from playalter.pipelines.runtime import onnx_runtime
from playalter.pipelines.engine.detection import detect_faces, resolve_backend, scrfd
from playalter.pipelines.core.errors import ModelCorruptError, ModelMissingError
from playalter.pipelines.engine.face import Face


@pytest.fixture
def buffalo_dir(monkeypatch, tmp_path):
    folder = onnx_models.write_buffalo_l(tmp_path)
    onnx_models.use_models_dir(monkeypatch, tmp_path)
    yield folder
    config.reset_settings()
    onnx_runtime.clear_cache()


def _blocks_image() -> np.ndarray:
    """640 x 480 black image with one pure-colour block per stride, each covering exactly one cell."""
    image = np.zeros((480, 640, 3), np.uint8)
    image[64:72, 64:72] = (255, 0, 0)  # red   -> stride 8 cell (8, 8)
    image[304:320, 96:112] = (0, 255, 0)  # green -> stride 16 cell (6, 19)
    image[192:224, 320:352] = (0, 0, 255)  # blue  -> stride 32 cell (10, 6)
    return image


def _expected(center_x: float, center_y: float, stride: int, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Box (4,) and kps (5,2) the tiny detector encodes for an anchor centre, in image pixels."""
    reach = onnx_models.BOX_DISTANCE * stride
    box = np.array([center_x - reach, center_y - reach, center_x + reach, center_y + reach]) / scale
    kps = (np.array([center_x, center_y]) + onnx_models.KPS_OFFSETS * stride) / scale
    return box, kps


def test_auto_picks_buffalo_l_when_present_and_override_wins(buffalo_dir, astronaut_image):
    assert resolve_backend("auto") == "buffalo_l"
    faces = detect_faces(astronaut_image, backend="centerface")
    assert len(faces) == 1 and faces[0].detector == "centerface" and faces[0].embedding is None


def test_configured_backend_decides_auto(buffalo_dir, monkeypatch):
    monkeypatch.setenv("PLAYALTER__DETECTION__BACKEND", "centerface")
    config.reset_settings()
    assert resolve_backend("auto") == "centerface"
    assert resolve_backend("buffalo_l") == "buffalo_l"


def test_each_stride_decodes_its_face_in_rgb_order(buffalo_dir):
    faces = detect_faces(_blocks_image(), order="left_to_right")
    assert [face.detector for face in faces] == ["buffalo_l"] * 3
    expectations = [_expected(64, 64, 8), _expected(96, 304, 16), _expected(320, 192, 32)]
    for face, (box, kps) in zip(sorted(faces, key=lambda face: face.width), expectations):
        np.testing.assert_allclose(face.bbox, np.clip(box, 0, [640, 480, 640, 480]), atol=1e-3)
        np.testing.assert_allclose(face.kps, kps, atol=1e-3)
        assert face.score == pytest.approx((1 + 127.5 / 128) / 2, abs=1e-6)  # (pixel - 127.5) / 128, mapped to 0..1


def test_letterbox_maps_back_to_image_pixels(buffalo_dir):
    image = np.zeros((960, 1280, 3), np.uint8)  # letterboxed into 640 x 640 at scale 0.5
    image[384:448, 640:704] = (0, 0, 255)  # one 32 x 32 cell at the input
    faces = detect_faces(image)
    assert len(faces) == 1
    box, kps = _expected(320, 192, 32, scale=0.5)
    np.testing.assert_allclose(faces[0].bbox, box, atol=1e-2)
    np.testing.assert_allclose(faces[0].kps, kps, atol=1e-2)


def test_max_side_zero_detects_at_full_resolution(buffalo_dir):
    image = np.zeros((960, 1280, 3), np.uint8)  # letterboxed into 1280 x 1280 at scale 1
    image[384:416, 640:672] = (0, 0, 255)
    faces = detect_faces(image, max_side=0)
    assert len(faces) == 1
    np.testing.assert_allclose(faces[0].bbox, _expected(640, 384, 32)[0], atol=1e-2)


def test_tall_image_is_letterboxed_top_left(buffalo_dir):
    image = np.zeros((1280, 640, 3), np.uint8)  # scale 0.5, content in the left half of the input
    image[1152:1216, 256:320] = (0, 0, 255)  # input cell (4, 18) at stride 32
    faces = detect_faces(image)
    box, _ = _expected(128, 576, 32, scale=0.5)
    assert len(faces) == 1
    np.testing.assert_allclose(faces[0].bbox, box, atol=1e-2)


def test_threshold_applies_to_scrfd_scores(buffalo_dir):
    assert detect_faces(_blocks_image(), threshold=0.999) == []


def test_batched_output_layout_decodes_the_same():
    side = 64
    outputs = []
    for width in (1, 4, 10):
        for stride in onnx_models.STRIDES:
            outputs.append(np.zeros(((side // stride) ** 2 * 2, width), np.float32))
    outputs[2][7] = 0.9  # stride 32: cell 3 of 2 x 2 (row 1, column 1), second anchor
    flat_boxes, flat_kps = scrfd.decode(outputs, side, side, 0.5)
    batched_boxes, batched_kps = scrfd.decode([output[None] for output in outputs], side, side, 0.5)
    np.testing.assert_array_equal(flat_boxes, batched_boxes)
    np.testing.assert_array_equal(flat_kps, batched_kps)
    np.testing.assert_allclose(flat_boxes[0], [32, 32, 32, 32, 0.9])  # zero distances at centre (32, 32)


def test_landmarks_follow_the_crop_around_the_box(buffalo_dir):
    face = detect_faces(_blocks_image(), order="largest")[0]  # the stride-32 face, 128 px box
    center = np.array(face.center)
    reach = buffalo.CROP_EXTENT / 2 * max(face.width, face.height)  # crop units -> pixels
    assert face.landmark_scheme == "106" and face.landmarks.shape == (106, 2)
    np.testing.assert_allclose(face.landmarks, center + onnx_models.LANDMARKS_106 * reach, atol=1e-2)
    assert face.landmarks_3d.shape == (68, 3)
    np.testing.assert_allclose(face.landmarks_3d[:, :2], center + onnx_models.LANDMARKS_68_3D[:, :2] * reach,
                               atol=1e-2)
    np.testing.assert_allclose(face.landmarks_3d[:, 2], onnx_models.LANDMARKS_68_3D[:, 2] * reach, atol=1e-2)


def test_pose_uses_the_68_point_landmarks(buffalo_dir):
    face = detect_faces(_blocks_image(), order="largest")[0]
    yaw, pitch, roll = face.pose  # the stand-in's 68 points are a frontal generic face
    assert abs(yaw) < 3 and abs(roll) < 3 and abs(pitch) < 8


def test_sex_and_age_read_raw_rgb_pixels(buffalo_dir):
    image = _blocks_image()
    face_region = (slice(96, 288), slice(224, 416))  # the 1.5 x crop around the blue block's face
    block = image[192:224, 320:352].copy()
    image[face_region] = (100, 60, 20)  # R > G: female; too dark to be a detection itself
    image[192:224, 320:352] = block
    face = [face for face in detect_faces(image) if face.width == 128][0]
    crop, _ = buffalo.box_crop(image, face.bbox, 96)
    means = crop.reshape(-1, 3).mean(axis=0)  # RGB means of what genderage sees
    assert face.sex == "F"  # in BGR order the model would have answered "M"
    assert face.age == round(100 * means[2] / 255)
    assert buffalo.input_normalisation(buffalo_dir / "genderage.onnx", 127.5, 128.0) == (0.0, 1.0)


def test_embedding_is_the_arcface_map_of_the_aligned_crop(buffalo_dir):
    face = detect_faces(_blocks_image(), order="largest")[0]
    crop, _ = align.crop(_blocks_image(), face.kps, 112)
    np.testing.assert_allclose(face.embedding, onnx_models.arcface_reference(crop), atol=1e-4)
    assert np.linalg.norm(face.embedding) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(recognition.embed(_blocks_image(), face), face.embedding, atol=1e-6)
    assert buffalo.input_normalisation(buffalo_dir / "w600k_r50.onnx", 127.5, 127.5) == (127.5, 127.5)


def test_embedding_follows_the_face_not_its_position(buffalo_dir):
    rng = np.random.default_rng(7)
    patch = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8).repeat(10, axis=0).repeat(10, axis=1)  # [120,120,3]
    kps = np.array([[40, 50], [80, 50], [60, 70], [45, 92], [75, 92]], np.float32)
    first, second = np.zeros((400, 400, 3), np.uint8), np.zeros((400, 400, 3), np.uint8)
    first[20:140, 30:150] = patch
    second[200:320, 250:370] = patch
    embed_first = recognition.embed(first, Face(bbox=[30, 20, 150, 140], score=1, kps=kps + [30, 20]))
    embed_second = recognition.embed(second, Face(bbox=[250, 200, 370, 320], score=1, kps=kps + [250, 200]))
    embed_other = recognition.embed(second, Face(bbox=[250, 200, 370, 320], score=1, kps=kps[:, ::-1] + [250, 200]))
    assert recognition.similarity(embed_first, embed_second) > 0.9999
    assert recognition.similarity(embed_first, embed_other) < 0.9


def test_sessions_use_the_chosen_providers(buffalo_dir):
    detect_faces(_blocks_image())
    for path in buffalo_dir.iterdir():
        providers = onnx_runtime.session(path).get_providers()
        assert providers == list(onnx_runtime.choose_providers("auto"))
        assert providers[-1] == "CPUExecutionProvider"


def test_buffalo_face_survives_json(buffalo_dir):
    face = detect_faces(_blocks_image())[0]
    again = Face.from_dict(face.to_dict())
    for name in ("bbox", "kps", "landmarks", "landmarks_3d", "embedding"):
        np.testing.assert_array_equal(getattr(again, name), getattr(face, name))
    assert (again.sex, again.age, again.pose, again.landmark_scheme) == (face.sex, face.age, face.pose, "106")


def test_embed_without_buffalo_l_names_the_feature(monkeypatch, tmp_path, astronaut_image):
    onnx_models.use_models_dir(monkeypatch, tmp_path)
    assert not recognition.is_available()
    face = detect_faces(astronaut_image)[0]
    with pytest.raises(ModelMissingError, match="ArcFace") as error:
        recognition.embed(astronaut_image, face)
    assert any(path.endswith("w600k_r50.onnx") for path in error.value.searched)
    with pytest.raises(ModelMissingError, match="buffalo_l"):
        detect_faces(astronaut_image, backend="buffalo_l")


def test_wrong_model_file_is_a_clear_error(buffalo_dir):
    onnx.save(onnx_models.genderage(), str(buffalo_dir / "2d106det.onnx"))  # 3 outputs instead of 212
    onnx_runtime.clear_cache()
    with pytest.raises(ModelCorruptError, match="2d106det.onnx gives 3 values .* gives 212"):
        detect_faces(_blocks_image())


def test_incomplete_buffalo_l_falls_back_to_centerface(monkeypatch, tmp_path, astronaut_image):
    onnx_models.write_buffalo_l(tmp_path, skip=("w600k_r50.onnx",))
    onnx_models.use_models_dir(monkeypatch, tmp_path)
    assert resolve_backend("auto") == "centerface"
    assert detect_faces(astronaut_image)[0].detector == "centerface"
