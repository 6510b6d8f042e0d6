"""The model-free landmark swap and the blending stage, on real photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from playalter.pipelines.engine.detection import detect_faces
from playalter.pipelines.core.errors import InvalidParameterError, NoFaceError
from playalter.pipelines.swap import classical, landmarks
from playalter.pipelines.swap.blend import (BlendOptions, Patch, blend, occluder_mask, outline_mask, protected_mask,
                                            region)
from playalter.pipelines.swap.pipeline import Source, SwapOptions, swap_batch, swap_faces

from conftest import read_rgb, shared_face_photos

PLAIN = BlendOptions(color="none", feather=0.0, occlusion=False, mouth=False, sharpen=0.0)


def _lab_mean(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)[mask].mean(axis=0)


def test_triangulation_covers_the_points():
    points = np.array([[0, 0], [10, 0], [0, 10], [10, 10], [5, 5]], np.float32)
    triangles = classical.triangulate(points)
    assert len(triangles) == 4 and set(triangles.ravel()) == {0, 1, 2, 3, 4}


def test_warp_maps_source_triangles_onto_target(t1_image, t1_faces):
    """Warping a face onto itself reproduces it (piecewise-affine with identical triangles)."""
    face = t1_faces[2]
    patch = classical.swap(t1_image, face, t1_image, face)
    rows, cols = patch.slices
    difference = np.abs(patch.image[patch.valid].astype(int) - t1_image[rows, cols][patch.valid])
    assert patch.valid.sum() > face.width * face.height * 0.6
    assert np.median(difference) <= 1


@pytest.mark.parametrize("mode", ["feather", "poisson"])
def test_classical_changes_face_and_keeps_outside(t1_image, t1_faces, mode):
    source, target = t1_faces[0], t1_faces[3]
    patch = classical.swap(t1_image, source, t1_image, target)
    result = blend(t1_image, patch, target, BlendOptions(mode=mode))
    mask = result.mask
    np.testing.assert_array_equal(result.image[~mask], t1_image[~mask])
    x0, y0, x1, y1 = region(target, t1_image.shape, margin=0.0)
    outline = outline_mask(target, x0, y0, (y1 - y0, x1 - x0))
    assert mask[y0:y1, x0:x1][outline].mean() > 0.6  # most of the target face outline is pasted
    changed = np.abs(result.image[mask].astype(int) - t1_image[mask]).mean()
    assert changed > 8
    others = np.ones(mask.shape, bool)
    others[y0:y1, x0:x1] = False
    assert not mask[others].any()  # nothing outside the target face region


def test_colour_correction_brings_lab_mean_to_target(t1_image, t1_faces):
    source, target = t1_faces[0], t1_faces[4]
    patch = classical.swap(t1_image, source, t1_image, target)
    results = {color: blend(t1_image, patch, target, BlendOptions(color=color, feather=0.0, sharpen=0.0,
                                                                  occlusion=False, mouth=False))
               for color in ("none", "lab", "histogram")}
    mask = results["none"].mask
    target_mean = _lab_mean(t1_image, mask)
    distance = {color: np.linalg.norm(_lab_mean(result.image, mask) - target_mean) for color, result in results.items()}
    assert distance["lab"] < 0.5 * distance["none"]
    assert distance["histogram"] < 0.5 * distance["none"]


def test_enhancement_touches_only_the_swapped_face(t1_image, t1_faces):
    target = t1_faces[1]
    patch = classical.swap(t1_image, t1_faces[5], t1_image, target)
    plain = blend(t1_image, patch, target, PLAIN)
    sharp = blend(t1_image, patch, target, BlendOptions(color="none", feather=0.0, occlusion=False, mouth=False,
                                                        sharpen=1.0, denoise=0.5))
    np.testing.assert_array_equal(plain.mask, sharp.mask)
    np.testing.assert_array_equal(sharp.image[~sharp.mask], t1_image[~sharp.mask])
    assert np.abs(sharp.image[sharp.mask].astype(int) - plain.image[sharp.mask]).mean() > 1


def test_occluder_over_the_face_is_kept(t1_image, t1_faces):
    """A dark object (a microphone, a sleeve) entering the lower face from its side is found and kept."""
    target = t1_faces[3]
    image = t1_image.copy()
    x1, y1, x2, y2 = target.bbox.astype(int)
    mouth, chin = float(target.kps[3:5, 1].mean()), float(target.mesh[152, 1])
    middle = int(mouth + 0.6 * (chin - mouth))  # between the mouth and the chin
    image[middle - 12: middle + 12, x1 - 30: (x1 + x2) // 2] = (30, 90, 40)  # a green bar over the left half
    x0, r0, xe, re = region(target, image.shape)
    outline = outline_mask(target, x0, r0, (re - r0, xe - x0))
    occluders = occluder_mask(image[r0:re, x0:xe], target, outline, x0, r0)
    bar = np.zeros(outline.shape, bool)
    bar[middle - 12 - r0: middle + 12 - r0, max(x1 - 30 - x0, 0): (x1 + x2) // 2 - x0] = True
    visible_bar = bar & outline & ~protected_mask(target, x0, r0, outline.shape)  # the mouth zone is left out
    assert (occluders & visible_bar).sum() > 0.9 * visible_bar.sum()
    assert (occluders & ~bar).sum() < 0.15 * outline.sum()
    patch = classical.swap(t1_image, t1_faces[0], image, target)
    result = blend(image, patch, target, BlendOptions())
    inside_bar = np.zeros(image.shape[:2], bool)
    inside_bar[r0:re, x0:xe] = visible_bar
    np.testing.assert_array_equal(result.image[inside_bar], image[inside_bar])
    assert result.occluded_fraction > 0.05


def test_five_point_outline_follows_the_face(t1_faces):
    face = t1_faces[2]
    points = landmarks.outline(face)
    x1, y1, x2, y2 = face.bbox
    center = points.mean(axis=0)
    assert x1 < center[0] < x2 and y1 < center[1] < y2
    width, height = np.ptp(points, axis=0)
    assert 0.7 * face.width < width < 1.4 * face.width and 0.7 * face.height < height < 1.4 * face.height


def test_dense_68_landmarks_drive_mouth_interior(t1_faces):
    face = t1_faces[2]
    dense = np.zeros((68, 2), np.float32)
    dense[60:68] = face.kps[3] + np.array([[0, 0], [5, -3], [10, -3], [15, 0], [20, 0], [15, 6], [10, 6], [5, 6]])
    dense[48], dense[54] = face.kps[3], face.kps[3] + (20, 0)  # outer mouth corners, 20 px apart
    dense_face = type(face)(bbox=face.bbox, score=face.score, kps=face.kps, landmarks=dense, landmark_scheme="68")
    np.testing.assert_array_equal(landmarks.mouth_interior(dense_face), dense[60:68])
    assert landmarks.mouth_openness(dense_face) == pytest.approx(9 / 20)  # lips 62 and 66 are 9 px apart
    five_point = type(face)(bbox=face.bbox, score=face.score, kps=face.kps)
    assert landmarks.mouth_interior(five_point) is None  # five points only: no mouth polygon


def test_swap_reports_classical_when_inswapper_is_absent(t1_image, t1_faces, tmp_path, monkeypatch):
    from playalter.pipelines.core import config

    monkeypatch.setenv("PLAYALTER_MODELS_DIR", str(tmp_path))
    config.reset_settings()
    output, report = swap_faces(t1_image, t1_faces, [Source(t1_image, t1_faces[0], None, "a")],
                                SwapOptions(target_indices="2"))
    assert report["method"] == "classical"
    assert report["reason"].startswith("no swap model (inswapper_128.onnx, hyperswap_*.onnx, reswapper_256.onnx) is installed")
    assert report["swaps"][0]["changed_pixels"] > 1000


@pytest.mark.fixtures
def test_classical_between_two_fixture_photos():
    photos = {path.name: path for path in shared_face_photos()}
    if "exp_0.jpg" not in photos or "exp_3.jpg" not in photos:
        pytest.skip("../shared/fixtures/faces is absent")
    source_image, target_image = read_rgb(photos["exp_0.jpg"]), read_rgb(photos["exp_3.jpg"])
    outputs, reports = swap_batch([source_image], [target_image], None, None,
                                  SwapOptions(method="classical", target_indices="0"))
    target = detect_faces(target_image)[0]
    x1, y1, x2, y2 = target.bbox.astype(int)
    changed = np.abs(outputs[0].astype(int) - target_image) > 0
    assert changed[y1:y2, x1:x2].any(axis=-1).mean() > 0.4
    outside = changed.any(axis=-1)
    outside[max(y1 - 40, 0):y2 + 40, max(x1 - 40, 0):x2 + 40] = False
    assert not outside.any()
    assert reports[0]["method"] == "classical"


def test_no_face_in_source_is_a_clear_error(t1_image):
    blank = np.full((256, 256, 3), 128, np.uint8)
    with pytest.raises(NoFaceError, match="no face was found in source image 0"):
        swap_batch([blank], [t1_image], None, None, SwapOptions(method="classical"))


def test_index_out_of_range_is_a_clear_error(t1_image, t1_faces):
    with pytest.raises(InvalidParameterError, match="target face index 9 does not exist: the target image has 6"):
        swap_faces(t1_image, t1_faces, [Source(t1_image, t1_faces[0])], SwapOptions(target_indices="0,9"))
    with pytest.raises(InvalidParameterError, match="source face index 7 does not exist"):
        swap_batch([t1_image], [t1_image], [t1_faces], [t1_faces], SwapOptions(), source_indices="7")
    with pytest.raises(InvalidParameterError, match="comma-separated"):
        swap_faces(t1_image, t1_faces, [Source(t1_image, t1_faces[0])], SwapOptions(target_indices="one"))


def test_bad_options_are_clear_errors(t1_image, t1_faces):
    with pytest.raises(InvalidParameterError, match="blend mode"):
        BlendOptions(mode="smudge")
    with pytest.raises(InvalidParameterError, match="sharpen must be between 0 and 1"):
        BlendOptions(sharpen=2.0)
    with pytest.raises(InvalidParameterError, match="swap method"):
        SwapOptions(method="magic")
    with pytest.raises(InvalidParameterError, match="needs a source image"):
        swap_faces(t1_image, t1_faces, [Source(None, None, np.ones(512, np.float32))], SwapOptions(method="classical"))
    two_sources = [Source(t1_image, t1_faces[0]), Source(t1_image, t1_faces[1])]
    with pytest.raises(InvalidParameterError, match="2 source faces cannot be paired with 3 target faces"):
        swap_faces(t1_image, t1_faces, two_sources, SwapOptions(method="classical", target_indices="2,3,4"))


def test_order_pairing_maps_several_sources(t1_image, t1_faces):
    sources = [Source(t1_image, t1_faces[0], None, "a"), Source(t1_image, t1_faces[1], None, "b")]
    _, report = swap_faces(t1_image, t1_faces, sources,
                           SwapOptions(method="classical", pairing="order", target_indices="4,5",
                                       similarity_report=False))
    assert [(entry["source"], entry["target_index"]) for entry in report["swaps"]] == [("a", 4), ("b", 5)]


def test_poisson_clone_lands_where_it_came_from(t1_image, t1_faces):
    """Cloning the target region onto itself gives it back (within solver rounding): no 1-px shift,
    whatever the parity of the mask's size."""
    for face in t1_faces:
        x0, y0, x1, y1 = region(face, t1_image.shape)
        patch = Patch(x0, y0, t1_image[y0:y1, x0:x1].copy(), np.ones((y1 - y0, x1 - x0), bool))
        result = blend(t1_image, patch, face, BlendOptions(mode="poisson", color="none", occlusion=False,
                                                           mouth=False, sharpen=0.0))
        assert result.mask.sum() > 1000
        assert np.abs(result.image.astype(int) - t1_image).max() <= 1


def test_buffalo_3d_68_landmarks_give_the_mouth_beside_106_points(t1_faces):
    face = t1_faces[2]
    ibug_3d = np.zeros((68, 3), np.float32)
    ibug_3d[60:68, :2] = face.kps[3] + np.array([[0, 0], [5, -2], [10, -2], [15, 0], [20, 0], [15, 4], [10, 4], [5, 4]])
    ibug_3d[48, :2], ibug_3d[54, :2] = face.kps[3], face.kps[3] + (20, 0)
    buffalo_face = type(face)(bbox=face.bbox, score=face.score, kps=face.kps,
                              landmarks=np.zeros((106, 2), np.float32), landmark_scheme="106", landmarks_3d=ibug_3d)
    np.testing.assert_array_equal(landmarks.mouth_interior(buffalo_face), ibug_3d[60:68, :2])
    assert landmarks.mouth_openness(buffalo_face) == pytest.approx(6 / 20)


def test_classical_uses_dense_landmarks_when_both_faces_have_them(t1_image, t1_faces):
    """Same-scheme dense landmarks (here 68 points laid on each face from a fixed 112-frame pattern) drive
    the warp; the outline then comes from their hull."""
    pattern = np.stack(np.meshgrid(np.linspace(25, 87, 17), np.linspace(40, 110, 4)), -1).reshape(-1, 2)[:68]

    def with_dense(face):
        matrix = landmarks.template_to_face(face)
        dense = pattern @ matrix[:, :2].T + matrix[:, 2]  # [68,2]
        return type(face)(bbox=face.bbox, score=face.score, kps=face.kps, landmarks=dense, landmark_scheme="68")

    source, target = with_dense(t1_faces[0]), with_dense(t1_faces[3])
    source_points, target_points = classical.corresponding_points(source, target)
    assert len(source_points) == 68 + 9  # dense + the forehead arc
    result = blend(t1_image, classical.swap(t1_image, source, t1_image, target), target, PLAIN)
    np.testing.assert_array_equal(result.image[~result.mask], t1_image[~result.mask])
    assert result.mask.sum() > 0.4 * target.width * target.height
    assert np.abs(result.image[result.mask].astype(int) - t1_image[result.mask]).mean() > 8
