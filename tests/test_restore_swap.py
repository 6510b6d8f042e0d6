"""Face restoration as a swap option: the request names, and a swap that restores only where it drew
(stand-ins: tests/swap_models.py for InSwapper, tests/restore_models.py for the restorer)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from playalter.pipelines.core.errors import InvalidParameterError
from playalter.pipelines.engine.detection import detect_faces
from playalter.pipelines.swap.blend import BlendOptions
from playalter.pipelines.swap.pipeline import Source, SwapOptions, swap_faces
from playalter.pipelines.swap.request import swap_request
from playalter.pipelines.swap.restore.faces import RestoreOptions

from restore_models import install_restorer
from swap_models import install_inswapper

PLAIN = BlendOptions(color="none", feather=0.0, occlusion=True, mouth=False, sharpen=0.0)


def test_request_names_build_the_restore_option():
    assert swap_request({}).restore is None and swap_request({"restore_model": "none"}).restore is None
    options = swap_request({"restore_model": "codeformer", "restore_strength": 0.5, "codeformer_fidelity": 0.7})
    assert options.restore == RestoreOptions("codeformer", strength=0.5, fidelity=0.7)
    assert swap_request({"restore_model": "gpen_bfr_1024"}).restore == RestoreOptions("gpen_bfr_1024")


@pytest.mark.parametrize("values, message", [
    ({"restore_model": "gfpgan"}, "restore_model must be none or one of gfpgan_1.4, codeformer"),
    ({"restore_model": "gfpgan_1.4", "restore_strength": "1"}, "restore_strength must be a number from 0 to 1"),
    ({"restore_model": "codeformer", "codeformer_fidelity": 2.0}, "restore fidelity must be a number from 0 to 1"),
])
def test_a_wrong_restore_value_is_refused_naming_it(values, message):
    with pytest.raises(InvalidParameterError, match=message):
        swap_request(values)


def test_a_swap_restores_only_inside_what_it_drew(tmp_path, monkeypatch, t1_image):
    faces = detect_faces(t1_image, order="left_to_right")
    models_root = tmp_path / "models"
    install_inswapper(models_root, monkeypatch)
    install_restorer(models_root, monkeypatch, "gfpgan_1.4", scale=-1.0)  # inverts colours: easy to see
    embedding = np.random.default_rng(7).normal(size=512).astype(np.float32)
    source = Source(None, None, embedding / np.linalg.norm(embedding), "identity")
    plain = SwapOptions(target_indices="1,4", blend=PLAIN, similarity_report=False)
    swapped, _ = swap_faces(t1_image, faces, [source], plain)
    restored, report = swap_faces(t1_image, faces, [source],
                                  dataclasses.replace(plain, restore=RestoreOptions(strength=0.5, feather=0.0)))
    drawn = np.any(swapped != t1_image, axis=2)  # what the swap changed
    by_restore = np.any(restored != swapped, axis=2)
    assert by_restore.sum() > 0.8 * drawn.sum() and not (by_restore & ~drawn).any()
    np.testing.assert_array_equal(restored[~drawn], t1_image[~drawn])
    midway = (swapped[by_restore].astype(float) + (255 - swapped[by_restore].astype(float))) / 2
    assert np.median(np.abs(restored[by_restore] - midway)) < 3  # half of the inverted swap
    assert [entry["restored"] for entry in report["swaps"]] == [{"model": "gfpgan_1.4", "strength": 0.5}] * 2


def test_swap_video_flags_name_the_same_restore_option():
    from playalter.runner.cli.main import build_parser

    args = build_parser().parse_args(["swap-video", "me.png", "clip.mp4", "--out", "out", "--restore-model",
                                      "codeformer", "--restore-strength", "0.8", "--codeformer-fidelity", "0.3"])
    assert swap_request(vars(args)).restore == RestoreOptions("codeformer", strength=0.8, fidelity=0.3)
    defaults = build_parser().parse_args(["swap-video", "me.png", "clip.mp4", "--out", "out"])
    assert swap_request(vars(defaults)).restore is None


def test_the_video_swap_restores_what_it_swapped(tmp_path, monkeypatch, astronaut_image):
    from video_clips import read_frames, window, write_clip

    from playalter.pipelines.video import swap_video
    from playalter.pipelines.video.options import VideoOptions

    models_root = tmp_path / "models"
    install_inswapper(models_root, monkeypatch)
    install_restorer(models_root, monkeypatch, "gfpgan_1.4", scale=-1.0)  # inverts colours: easy to see
    clip = write_clip(tmp_path / "clip.mp4", [window(astronaut_image, (0.4, 0.3), 1.6, (160, 120))] * 4)
    embedding = np.random.default_rng(7).normal(size=512).astype(np.float32)
    source = Source(None, None, embedding / np.linalg.norm(embedding), "identity")
    plain = SwapOptions(blend=PLAIN, similarity_report=False)
    swap_video(source, clip, tmp_path / "plain.mp4", plain, VideoOptions(crf=4))
    report = swap_video(source, clip, tmp_path / "restored.mp4",
                        dataclasses.replace(plain, restore=RestoreOptions(feather=0.0)), VideoOptions(crf=4))
    original, swapped, restored = (read_frames(path)[0] for path in (clip, tmp_path / "plain.mp4",
                                                                      tmp_path / "restored.mp4"))
    assert report["swap"]["restored"] == {"model": "gfpgan_1.4", "strength": 1.0}
    for before, after_swap, after_restore in zip(original, swapped, restored):
        drawn = np.abs(after_swap.astype(int) - before).max(axis=2) > 20  # what the swap changed
        changed = np.abs(after_restore.astype(int) - after_swap).max(axis=2) > 60  # the inverted colours
        assert changed.sum() > 0.5 * drawn.sum() > 0
        rows, columns = np.nonzero(drawn)
        outside = changed.copy()
        outside[rows.min():rows.max() + 1, columns.min():columns.max() + 1] = False
        assert not outside.any()  # nothing restored beyond what the swap drew
